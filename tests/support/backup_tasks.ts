/** Runs `deno task backup` / `deno task restore` as an operator would, from the project root. */

const ROOT = new URL("../../", import.meta.url).pathname;

/** The exit code and output of a task run. */
export interface TaskResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `deno task <name> -- <args>` with `env` added to a minimal environment.
 *
 * @example
 * ```ts
 * const result = await runTask("backup", ["/tmp/b.tar"], { SESSIONS_DATA_PATH: dataDir });
 * ```
 */
export async function runTask(
  name: "backup" | "restore",
  args: string[],
  env: Record<string, string> = {},
): Promise<TaskResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", name, "--", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
