import { basename, dirname, join, resolve } from "node:path";
import { TEMP_FILE_PREFIX } from "./data_dir_layout.ts";
import { forEachLimited } from "../lib/for_each_limited.ts";

/** Files hold credentials: readable by the owner only. */
const FILE_MODE = 0o600;

/** Options for {@linkcode writeFilesAtomic}. */
export interface WriteFilesOptions {
  /** How many temporary files are written at once. */
  concurrency?: number;
  /**
   * Whether the batch must survive a crash once the promise resolves (the default). When false,
   * nothing is synced: each file is still replaced atomically for readers, but after a crash a
   * file may be left empty or at its old content. Only for writes something else makes durable
   * (the auth journal), followed by {@linkcode syncFiles} and {@linkcode syncDirectory}.
   */
  durable?: boolean;
}

/**
 * Replaces one file atomically and durably: after a crash at any moment the path holds either the
 * old or the new content, complete.
 *
 * @example
 * ```ts
 * await writeFileAtomic("/data/sessions-metadata.json", new TextEncoder().encode("{}"));
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  await writeFilesAtomic(dirname(path), new Map([[basename(path), data]]));
}

/**
 * Applies a batch of changes to files of one directory: bytes replace a file atomically, `null`
 * deletes it. Every new file is written to a temporary file and synced before any rename, and the
 * directory is synced once for the whole batch, so the batch costs one directory sync however
 * many files it holds (with `durable: false`, neither: see {@linkcode WriteFilesOptions}). Each file
 * is atomic on its own; the batch as a whole is not.
 *
 * @example
 * ```ts
 * await writeFilesAtomic("/data/shop-1", new Map([
 *   ["creds.json", bytes],
 *   ["pre-key-1.json", null],
 * ]));
 * ```
 */
export async function writeFilesAtomic(
  dir: string,
  changes: ReadonlyMap<string, Uint8Array | null>,
  options: WriteFilesOptions = {},
): Promise<void> {
  const writes: [string, Uint8Array][] = [];
  const deletions: string[] = [];
  for (const [name, data] of changes) {
    if (data === null) deletions.push(name);
    else writes.push([name, data]);
  }
  const concurrency = options.concurrency ?? 8;
  const durable = options.durable ?? true;

  const staged: { temp: string; target: string }[] = [];
  let renamed = 0;
  try {
    await forEachLimited(writes, concurrency, async ([name, data]) => {
      const temp = join(dir, `${TEMP_FILE_PREFIX}${crypto.randomUUID()}`);
      staged.push({ temp, target: join(dir, name) });
      await writeNew(temp, data, durable);
    });
    for (const { temp, target } of staged) {
      await Deno.rename(temp, target);
      renamed++;
    }
  } catch (error) {
    await Promise.all(staged.slice(renamed).map(({ temp }) => Deno.remove(temp).catch(() => {})));
    throw error;
  }
  await forEachLimited(deletions, concurrency, async (name) => {
    try {
      await Deno.remove(join(dir, name));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  });
  if (durable) await syncDirectory(dir);
}

/**
 * Makes the content of files of one directory durable (those that no longer exist are skipped).
 * Their directory entries are not: call {@linkcode syncDirectory} afterwards.
 *
 * @example
 * ```ts
 * await writeFilesAtomic("/data/shop-1", changes, { durable: false });
 * await syncFiles("/data/shop-1", [...changes.keys()]);
 * await syncDirectory("/data/shop-1");
 * ```
 */
export async function syncFiles(
  dir: string,
  names: readonly string[],
  options: { concurrency?: number } = {},
): Promise<void> {
  await forEachLimited(names, options.concurrency ?? 8, async (name) => {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(join(dir, name), { read: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    try {
      await file.sync();
    } finally {
      file.close();
    }
  });
}

/**
 * Makes a directory's entries (created, renamed or removed files) durable.
 *
 * @example
 * ```ts
 * await Deno.rename("/data/a.tmp", "/data/a");
 * await syncDirectory("/data");
 * ```
 */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

/** Options for {@linkcode createDirectoryDurably}. */
export interface CreateDirectoryOptions {
  mode?: number;
  /**
   * Told when the parent of a directory it created may not be read (so not synced), e.g. the
   * working directory of a process allowed to use `sessions_data` only. Without it, that throws.
   */
  onParentNotSynced?: (parent: string, error: Error) => void;
}

/**
 * Creates a directory and its missing parents so that they survive a crash: the parent of each
 * directory created is synced. A directory that exists is left as it is.
 *
 * @example
 * ```ts
 * await createDirectoryDurably("/data/sessions_data", { mode: 0o700 });
 * ```
 */
export async function createDirectoryDurably(
  path: string,
  options: CreateDirectoryOptions = {},
): Promise<void> {
  const missing: string[] = [];
  for (let dir = resolve(path); dir !== dirname(dir); dir = dirname(dir)) {
    // A parent this process may not even look at (Deno's permissions) is taken to exist.
    const found = await Deno.lstat(dir).then(
      () => true,
      (error) => !(error instanceof Deno.errors.NotFound),
    );
    if (found) break;
    missing.unshift(dir);
  }
  for (const dir of missing) {
    try {
      await Deno.mkdir(dir, { mode: options.mode ?? 0o700 });
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) continue; // someone else's, who syncs it
      // A parent taken to exist above (out of this process's sight) is missing after all: create
      // the levels it cannot see at once, as a recursive mkdir may; their parents stay unsynced.
      if (!(error instanceof Deno.errors.NotFound) || dir !== missing[0]) throw error;
      await Deno.mkdir(dir, { mode: options.mode ?? 0o700, recursive: true });
    }
    try {
      await syncDirectory(dirname(dir));
    } catch (error) {
      const denied = error instanceof Deno.errors.NotCapable ||
        error instanceof Deno.errors.PermissionDenied;
      if (!denied || !options.onParentNotSynced) throw error;
      options.onParentNotSynced(dirname(dir), error as Error);
    }
  }
}

/**
 * Removes the temporary files a crash left in a directory; returns how many it removed. Only
 * call it while no write into that directory is in progress (the store does, on open).
 *
 * @example
 * ```ts
 * const removed = await removeStaleTempFiles("/data/shop-1");
 * ```
 */
export async function removeStaleTempFiles(dir: string): Promise<number> {
  let removed = 0;
  try {
    // Synchronous listing, as in `authFileNames`: one round trip per entry is what made opening
    // a store of 1,000 linked sessions take seconds.
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.isFile && entry.name.startsWith(TEMP_FILE_PREFIX)) {
        await Deno.remove(join(dir, entry.name)).catch((error) => {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
        });
        removed++;
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return removed;
}

async function writeNew(path: string, data: Uint8Array, sync: boolean): Promise<void> {
  // createNew: never reuse an existing name, and never follow a symlink planted at it.
  const file = await Deno.open(path, { write: true, createNew: true, mode: FILE_MODE });
  try {
    let written = 0;
    while (written < data.length) written += await file.write(data.subarray(written));
    if (sync) await file.sync();
  } finally {
    file.close();
  }
}
