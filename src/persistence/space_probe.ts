import { join } from "node:path";
import { TEMP_FILE_PREFIX } from "./data_dir_layout.ts";

/** Enough to tell "a little space" from "none": a typical batch of auth writes is smaller. */
const PROBE_BYTES = 64 * 1024;

/**
 * Writes and syncs a temporary file of 64 KiB in `dataDir`, then removes it: resolves when the
 * disk takes writes again, rejects (ENOSPC) while it is full. A crash in between leaves a
 * `.tmp-` file, which the store removes on open.
 *
 * @example
 * ```ts
 * await probeFreeSpace("/var/lib/wa-gateway"); // throws while the disk is full
 * ```
 */
export async function probeFreeSpace(dataDir: string): Promise<void> {
  const path = join(dataDir, `${TEMP_FILE_PREFIX}space-probe-${crypto.randomUUID()}`);
  try {
    const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
    try {
      const data = new Uint8Array(PROBE_BYTES);
      let written = 0;
      while (written < data.length) written += await file.write(data.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
  } finally {
    await Deno.remove(path).catch(() => {});
  }
}
