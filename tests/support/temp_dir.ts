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

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function describeBytes(data: Uint8Array): string {
  try {
    if (!data.includes(0)) return strictUtf8.decode(data);
  } catch {
    // binary: below
  }
  return `base64:${btoa(String.fromCharCode(...data))}`;
}
