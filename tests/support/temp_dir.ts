/**
 * Runs `fn` with a fresh temporary directory and removes it afterwards, whatever happens.
 *
 * @example
 * ```ts
 * await withTempDir(async (root) => { ... });
 * ```
 */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "wa-gateway-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
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
