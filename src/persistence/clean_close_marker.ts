/**
 * The mark a store leaves when it closed cleanly: every write into the session folders had
 * finished, so none left a temporary file behind. The next open then skips listing every session
 * folder for a crash's leftovers, the biggest part of opening a store of many linked sessions
 * (each folder holds hundreds of key files). Opening takes the mark away, durably, before anything
 * may write into a folder; so after a crash there is no mark, and the next open sweeps every folder.
 * Whatever else writes into session folders (a key rotation) takes it away first too.
 */
import { join } from "node:path";
import { syncDirectory, writeFileAtomic } from "./atomic_write.ts";
import { CLEAN_CLOSE_FILE_NAME } from "./data_dir_layout.ts";
import { lstatIfPresent } from "./read_regular_file.ts";

/** What the mark holds: only for people reading the data directory. */
const CONTENT = new TextEncoder().encode(
  "The gateway closed this data directory cleanly; the next start removes this file.\n",
);

/**
 * Whether the data directory carries the mark (a regular file; anything else does not count).
 * Blocking: one lstat.
 *
 * @example
 * ```ts
 * const clean = closedCleanly("/data");
 * ```
 */
export function closedCleanly(dataDir: string): boolean {
  return lstatIfPresent(join(dataDir, CLEAN_CLOSE_FILE_NAME))?.isFile ?? false;
}

/**
 * Removes the mark and makes its removal durable: a crash from here on must find no mark.
 *
 * @example
 * ```ts
 * await clearCleanClose("/data"); // before the first write into a session folder
 * ```
 */
export async function clearCleanClose(dataDir: string): Promise<void> {
  try {
    await Deno.remove(join(dataDir, CLEAN_CLOSE_FILE_NAME));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  await syncDirectory(dataDir);
}

/**
 * Leaves the mark, durably; only once every write into the session folders has finished.
 *
 * @example
 * ```ts
 * await markClosedCleanly("/data");
 * ```
 */
export async function markClosedCleanly(dataDir: string): Promise<void> {
  await writeFileAtomic(join(dataDir, CLEAN_CLOSE_FILE_NAME), CONTENT);
}
