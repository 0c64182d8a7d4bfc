import { PersistenceError } from "../domain/errors.ts";

/** What {@linkcode readRegularFile} found at a path. */
export type RegularFileRead =
  | { kind: "file"; data: Uint8Array }
  | { kind: "missing" }
  | { kind: "not_regular"; info: Deno.FileInfo };

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
export async function readRegularFile(path: string): Promise<RegularFileRead> {
  // A legitimate atomic replace can land between lstat and open; a few tries tell it apart.
  for (let attempt = 0; attempt < 5; attempt++) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return { kind: "missing" };
      throw error;
    }
    if (!info.isFile) return { kind: "not_regular", info };
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
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

async function readToEnd(file: Deno.FsFile, sizeHint: number): Promise<Uint8Array> {
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
