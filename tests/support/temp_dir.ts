/** The prefix of every test's temporary directory. */
export const TEMP_DIR_PREFIX = "wa-gateway-test-";

/**
 * Runs `fn` with a fresh temporary directory and removes it afterwards, whatever happens. A
 * test that still has a writer in it (Baileys writes a key or two after `end()`) gets its
 * removal retried until the writer is done; a directory that cannot be removed fails the test.
 *
 * @example
 * ```ts
 * await withTempDir(async (root) => { ... });
 * ```
 */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: TEMP_DIR_PREFIX });
  let failed = false;
  try {
    return await fn(dir);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    // On a failed test the test's own error is the one to see; the folder is still removed.
    await removeTree(dir).catch((error) => {
      if (!failed) throw error;
    });
  }
}

/**
 * Removes `dir` and everything in it, retrying while something is still writing into it (a
 * removal then fails with ENOTEMPTY) for up to `timeoutMs`.
 */
export async function removeTree(dir: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0;; attempt++) {
    try {
      await Deno.remove(dir, { recursive: true });
      return;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      if (Date.now() > deadline) {
        throw new Error(`could not remove the test directory ${dir}: ${error}`);
      }
      // Each retry removes what the late writer added since; it finishes within milliseconds.
      await new Promise((resolve) => setTimeout(resolve, Math.min(10 * 2 ** attempt, 500)));
    }
  }
}

/**
 * Every path below `dir` (relative, sorted) with each file's content (text, or `base64:` for
 * binary files such as encrypted ones), to prove a tree untouched.
 */
export async function snapshotTree(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  const walk = async (relative: string) => {
    for await (const entry of Deno.readDir(`${dir}/${relative}`)) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory) {
        result[`${path}/`] = "";
        await walk(path);
      } else if (entry.isSymlink) {
        result[path] = `-> ${await Deno.readLink(`${dir}/${path}`)}`;
      } else {
        result[path] = describeBytes(await Deno.readFile(`${dir}/${path}`));
      }
    }
  };
  await walk("");
  return Object.fromEntries(Object.entries(result).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Every regular file below `dir` (relative paths) with its bytes. A file removed between the
 * listing and the read (a temporary one, renamed away by a running gateway) is left out.
 *
 * @example
 * ```ts
 * for (const [path, bytes] of await filesBelow(dataDir)) { ... }
 * ```
 */
export async function filesBelow(dir: string, prefix = ""): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for await (const entry of Deno.readDir(`${dir}/${prefix}`)) {
    const path = `${prefix}${entry.name}`;
    if (entry.isDirectory) {
      for (const [sub, bytes] of await filesBelow(dir, `${path}/`)) files.set(sub, bytes);
    } else if (entry.isFile) {
      const bytes = await Deno.readFile(`${dir}/${path}`).catch((error) => {
        if (error instanceof Deno.errors.NotFound) return null;
        throw error;
      });
      if (bytes) files.set(path, bytes);
    }
  }
  return files;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function describeBytes(data: Uint8Array): string {
  try {
    if (!data.includes(0)) return strictUtf8.decode(data);
  } catch {
    // binary: below
  }
  return `base64:${btoa(String.fromCharCode(...data))}`;
}
