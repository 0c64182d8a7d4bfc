import { PersistenceError } from "../domain/errors.ts";

/** What {@linkcode readRegularFile} found at a path. */
export type RegularFileRead =
  | { kind: "file"; data: Uint8Array }
  | { kind: "missing" }
  | { kind: "not_regular"; info: Deno.FileInfo };

/**
 * The entry at `path` itself (a symlink is not followed), or `null` when there is none. Blocking:
 * one lstat, cheaper than a thread-pool round trip for a local disk.
 *
 * @example
 * ```ts
 * const isLinked = lstatIfPresent("/data/shop-1/creds.json")?.isFile ?? false;
 * ```
 */
export function lstatIfPresent(path: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** Options of {@linkcode readRegularFile}. */
export interface ReadRegularFileOptions {
  /**
   * Makes the system calls on this thread instead of Deno's thread pool: for small files on a
   * local disk, where a thread-pool round trip (several per read) costs more than the read. It
   * blocks the event loop for as long as the disk takes.
   */
  blocking?: boolean;
}

/** The calls a read makes, on the thread pool or on this thread. */
interface FileCalls {
  lstat(path: string): Promise<Deno.FileInfo>;
  open(path: string): Promise<ReadableFile>;
}

type ReadableFile = Pick<Deno.FsFile, "stat" | "read" | "close">;

const THREAD_POOL: FileCalls = {
  lstat: (path) => Deno.lstat(path),
  open: (path) => Deno.open(path, { read: true }),
};

/** `call()`'s result as a promise, its exception as a rejection (as on the thread pool). */
function promised<T>(call: () => T): Promise<T> {
  try {
    return Promise.resolve(call());
  } catch (error) {
    return Promise.reject(error);
  }
}

const BLOCKING: FileCalls = {
  lstat: (path) => promised(() => Deno.lstatSync(path)),
  open: (path) =>
    promised(() => {
      const file = Deno.openSync(path, { read: true });
      return {
        stat: () => promised(() => file.statSync()),
        read: (buffer) => promised(() => file.readSync(buffer)),
        close: () => file.close(),
      };
    }),
};

/**
 * Reads a file without following a symlink at its last component: a symlink, directory or other
 * non-regular entry is reported, not read. Checks that the file opened is the entry it examined,
 * so a symlink swapped in between cannot redirect the read.
 *
 * @example
 * ```ts
 * const result = await readRegularFile("/data/shop-1/creds.json");
 * if (result.kind === "file") use(result.data);
 * ```
 */
export async function readRegularFile(
  path: string,
  options: ReadRegularFileOptions = {},
): Promise<RegularFileRead> {
  const calls = options.blocking ? BLOCKING : THREAD_POOL;
  // A legitimate atomic replace can land between lstat and open; a few tries tell it apart.
  for (let attempt = 0; attempt < 5; attempt++) {
    let info: Deno.FileInfo;
    try {
      info = await calls.lstat(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return { kind: "missing" };
      throw error;
    }
    if (!info.isFile) return { kind: "not_regular", info };
    let file: ReadableFile;
    try {
      file = await calls.open(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    try {
      const opened = await file.stat();
      if (opened.ino !== info.ino || opened.dev !== info.dev) continue;
      return { kind: "file", data: await readToEnd(file, opened.size) };
    } finally {
      file.close();
    }
  }
  throw new PersistenceError(`${path} kept changing while being read`);
}

async function readToEnd(file: ReadableFile, sizeHint: number): Promise<Uint8Array> {
  let buffer = new Uint8Array(Math.max(sizeHint, 1024));
  let length = 0;
  while (true) {
    if (length === buffer.length) {
      const bigger = new Uint8Array(buffer.length * 2);
      bigger.set(buffer);
      buffer = bigger;
    }
    const read = await file.read(buffer.subarray(length));
    if (read === null) return buffer.slice(0, length);
    length += read;
  }
}
