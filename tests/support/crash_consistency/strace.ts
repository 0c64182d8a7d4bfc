/**
 * Runs a Deno script under `strace`, recording the system calls the file-system model needs
 * (see `fs_model.ts`), and the lines the script prints on stdout.
 */
import { REPO_ROOT } from "../child_process.ts";
import { TRACED_CALLS } from "./syscall_replay.ts";
import { parseStrace, type Syscall } from "./syscall_trace.ts";

/** What a traced run left. */
export interface TracedRun {
  calls: Syscall[];
  code: number;
  stdout: string;
  stderr: string;
}

/** Where strace is, or `null` when it is not installed. */
export async function findStrace(): Promise<string | null> {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    const path = `${dir}/strace`;
    if ((await Deno.stat(path).catch(() => null))?.isFile) return path;
  }
  return null;
}

/**
 * Runs `deno run <script> <args>` with read and write access to `root` only, under strace, and
 * parses the trace.
 *
 * @example
 * ```ts
 * const run = await traceDenoScript(new URL("./child.ts", import.meta.url), root, [root]);
 * ```
 */
export async function traceDenoScript(
  script: URL,
  root: string,
  args: string[],
  env: Record<string, string> = {},
  flags: readonly string[] = [],
): Promise<TracedRun> {
  const strace = await findStrace();
  if (!strace) {
    throw new Error(
      "strace is not installed: the crash-consistency harness needs it " +
        "(sudo apt-get install strace; .ci/run does it)",
    );
  }
  const traceFile = await Deno.makeTempFile({ prefix: "wa-gateway-strace-" });
  try {
    const output = await new Deno.Command(strace, {
      args: [
        "-f", // every thread: Deno's file operations run on a pool of them
        "--seccomp-bpf", // stop only at the traced calls: much faster
        "-qq",
        "-y", // the path behind every descriptor
        "-xx", // every string in hex: exact bytes, nothing to unescape
        "-s",
        String(16 * 1024 * 1024),
        "-e",
        "signal=none",
        "-e",
        `trace=${TRACED_CALLS.join(",")}`,
        "-o",
        traceFile,
        "--",
        Deno.execPath(),
        "run",
        "--quiet",
        "--frozen",
        "--allow-env",
        "--allow-sys=hostname",
        `--allow-read=${root}`,
        `--allow-write=${root}`,
        ...flags,
        script.pathname,
        ...args,
      ],
      cwd: REPO_ROOT,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return {
      calls: parseStrace(await Deno.readTextFile(traceFile)),
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    await Deno.remove(traceFile).catch(() => {});
  }
}
