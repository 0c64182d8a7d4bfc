/** The repository root, where `deno.json` is, so child processes resolve the same imports. */
export const REPO_ROOT = new URL("../../", import.meta.url).pathname;

/**
 * Starts `deno run` on a script of `tests/support/`, with read and write access to `dataDir` only
 * (plus what pino reads: the environment and the host name).
 *
 * @example
 * ```ts
 * const child = spawnDenoScript("open_store_child.ts", dataDir, [dataDir]).spawn();
 * ```
 */
export function spawnDenoScript(script: string, dataDir: string, args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--frozen",
      "--allow-env",
      "--allow-sys=hostname",
      `--allow-read=${dataDir}`,
      `--allow-write=${dataDir}`,
      new URL(script, import.meta.url).pathname,
      ...args,
    ],
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}
