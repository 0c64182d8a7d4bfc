/**
 * A real, small disk for full-disk tests: a tmpfs of a few MiB mounted on a temporary directory
 * (needs root, and a sandbox that allows `mount`), which a test fills up and frees again.
 */
import { defineRequirement } from "./test_requirements.ts";
import { removeTree, TEMP_DIR_PREFIX } from "./temp_dir.ts";

/** A mounted tmpfs: `dir` is its root. */
export interface SmallDisk {
  dir: string;
  /** Writes a filler file until the disk is full (ENOSPC). */
  fill(): Promise<void>;
  /** Removes the filler: the disk has room again. */
  free(): Promise<void>;
}

async function run(command: string, args: string[]): Promise<void> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
    .output();
  if (!output.success) {
    throw new Error(`${command} ${args.join(" ")}: ${new TextDecoder().decode(output.stderr)}`);
  }
}

/** Mounting a tmpfs works here (root in a sandbox that allows it). */
export const tmpfsRequirement = defineRequirement<null>({
  name: "a mountable tmpfs",
  hint: "Run the tests as root where `mount -t tmpfs` is allowed (CI does); without it the " +
    "full-disk tests that use a real disk are ignored and the injected-ENOSPC ones still run",
  probe: async () => {
    if (Deno.uid() !== 0) return { met: false, reason: "not running as root" };
    await withSmallDisk(64, () => Promise.resolve());
    return { met: true, value: null, description: "mount -t tmpfs works" };
  },
});

/**
 * Mounts a tmpfs of `sizeKiB` on a fresh temporary directory, runs `fn`, then unmounts and
 * removes it, also when `fn` fails.
 *
 * @example
 * ```ts
 * await withSmallDisk(8192, async (disk) => { …; await disk.fill(); …; await disk.free(); });
 * ```
 */
export async function withSmallDisk(
  sizeKiB: number,
  fn: (disk: SmallDisk) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: TEMP_DIR_PREFIX });
  try {
    await run("mount", ["-t", "tmpfs", "-o", `size=${sizeKiB}k,mode=0700`, "tmpfs", dir]);
    const filler = `${dir}/filler`;
    try {
      await fn({
        dir,
        fill: () => fillUp(filler),
        free: () => Deno.remove(filler),
      });
    } finally {
      // Lazy: a process that still has a file open there (a killed child) cannot hold it up.
      await run("umount", ["-l", dir]);
    }
  } finally {
    await removeTree(dir);
  }
}

async function fillUp(path: string): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, append: true });
  try {
    const chunk = new Uint8Array(64 * 1024).fill(1);
    let size = chunk.length;
    while (true) {
      try {
        await file.write(chunk.subarray(0, size));
      } catch (error) {
        if ((error as { code?: string }).code !== "ENOSPC") throw error;
        if (size === 512) return; // not even a sector left
        size = Math.max(512, size / 2);
      }
    }
  } finally {
    file.close();
  }
}
