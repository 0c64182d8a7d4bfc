/** What a directory tree holds, read into memory: the starting point of a modelled root. */
import { join } from "node:path";

/** What a root directory holds: directories and files by relative path (`a`, `a/b.json`). */
export interface RootContents {
  directories: Set<string>;
  files: Map<string, Uint8Array>;
}

/**
 * Reads what a directory holds (symlinks and other special files are not expected there).
 *
 * @example
 * ```ts
 * const before = await readRootContents(root);
 * ```
 */
export async function readRootContents(root: string): Promise<RootContents> {
  const contents: RootContents = { directories: new Set(), files: new Map() };
  const walk = async (relativePath: string) => {
    for await (const entry of Deno.readDir(join(root, relativePath))) {
      const path = relativePath ? `${relativePath}/${entry.name}` : entry.name;
      if (entry.isDirectory) {
        contents.directories.add(path);
        await walk(path);
      } else if (entry.isFile) {
        contents.files.set(path, await Deno.readFile(join(root, path)));
      } else {
        throw new Error(`${path} in the modelled root is neither a file nor a directory`);
      }
    }
  };
  await walk("");
  return contents;
}
