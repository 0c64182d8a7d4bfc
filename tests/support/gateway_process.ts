/**
 * Runs the gateway as a real `deno run` child process, with the permission flags that
 * `deno task start` gives it, for a test data directory.
 */

import { dirname } from "node:path";
import { type LaunchCommand, launchPlan } from "../../src/launch/launch_plan.ts";
import { TEST_API_KEY } from "./core_app.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

export interface GatewayProcess {
  url: string;
  dataDir: string;
  /** The `API_KEY` the child was given; `undefined` when it generates its own. */
  apiKey: string | undefined;
  /** `fetch` against the gateway's URL, sending `apiKey` as `X-Api-Key` when there is one. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  child: Deno.ChildProcess;
  /** Every log line the child wrote so far (parsed JSON). */
  logs: Record<string, unknown>[];
  /** Resolves with the exit status once the child has exited. */
  exited: Promise<Deno.CommandStatus>;
  /**
   * Waits for a log line matching `predicate`. `timeoutMs` is how long the child may stay
   * silent: a gateway that keeps logging (replaying journals on a loaded machine) is waited for.
   */
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  kill(signal: Deno.Signal): void;
  /** Sends SIGKILL if still running and waits for exit. */
  dispose(): Promise<void>;
}

/** The `deno run` flags of `deno task start`, for the data directory `dataDir`. */
export function startTaskFlags(dataDir: string): Promise<string[]> {
  return taskFlags("start", dataDir);
}

/**
 * The `deno` flags that the launcher gives a task (`src/launch/launch_plan.ts`), for the data
 * directory `dataDir` and no key files; with `root`, for the code of that other checkout.
 */
export function taskFlags(
  name: LaunchCommand,
  dataDir: string,
  root: string = ROOT,
): Promise<string[]> {
  const plan = launchPlan(name, [], { SESSIONS_DATA_PATH: dataDir });
  return Promise.resolve(
    plan.filter((arg) => arg.startsWith("--")).map((flag) =>
      flag.replaceAll(`${ROOT}src`, `${root}src`)
    ),
  );
}

export interface SpawnOptions {
  dataDir: string;
  env?: Record<string, string>;
  /** `API_KEY` for the child: `TEST_API_KEY` by default, `null` to leave it unset. */
  apiKey?: string | null;
  /** Resolve as soon as the process is spawned instead of waiting until it listens. */
  noWait?: boolean;
  /**
   * Run this `deno compile` executable instead of `deno run src/main.ts`, in the directory that
   * holds `dataDir` (its baked-in permissions name `sessions_data`, relative to it).
   */
  executable?: string;
  /**
   * Run the gateway of another checkout (a directory ending in `/`, e.g. a worktree of `main`),
   * with its own `deno task start` flags: for benchmarks that compare two versions in one run.
   */
  root?: string;
  /** Changes the `deno run` flags taken from `deno task start` (permissions, for instance). */
  flags?: (flags: string[]) => string[];
}

/** Starts the gateway and waits until it listens. */
export async function spawnGateway(options: SpawnOptions): Promise<GatewayProcess> {
  const root = options.root ?? ROOT;
  const startFlags = await taskFlags("start", options.dataDir, root);
  const flags = options.flags ? options.flags(startFlags) : startFlags;
  const env: Record<string, string> = {
    PORT: "0",
    SESSIONS_DATA_PATH: options.dataDir,
    LOG_LEVEL: "info",
    ...(options.apiKey === null ? {} : { API_KEY: options.apiKey ?? TEST_API_KEY }),
    ...options.env,
  };
  const child = new Deno.Command(options.executable ?? Deno.execPath(), {
    args: options.executable ? [] : ["run", "--frozen", ...flags, `${root}src/main.ts`],
    cwd: options.executable ? dirname(options.dataDir) : root,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  const logs: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  const rawLines: string[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoderStream();
    let buffer = "";
    for await (const chunk of stream.pipeThrough(decoder)) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        rawLines.push(line);
        try {
          logs.push(JSON.parse(line));
        } catch {
          logs.push({ msg: line, raw: true });
        }
        for (const wake of waiters) wake();
      }
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const exited = pumps.then(() => child.status);

  const waitForLog = async (
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs = 15_000,
  ) => {
    let deadline = Date.now() + timeoutMs;
    let seen = 0;
    while (true) {
      if (seen < logs.length) deadline = Date.now() + timeoutMs; // it is making progress
      for (; seen < logs.length; seen++) if (predicate(logs[seen])) return logs[seen];
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(
          `no matching log line, and none at all for ${timeoutMs} ms; got:\n${rawLines.join("\n")}`,
        );
      }
      let finished = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            resolve();
          };
          waiters.add(wake);
          timer = setTimeout(wake, remaining);
        }),
        exited.then(() => {
          finished = true;
        }),
      ]);
      clearTimeout(timer);
      if (finished) {
        for (; seen < logs.length; seen++) if (predicate(logs[seen])) return logs[seen];
        throw new Error(`gateway exited; output:\n${rawLines.join("\n")}`);
      }
    }
  };

  const process: GatewayProcess = {
    url: "",
    dataDir: options.dataDir,
    apiKey: env.API_KEY,
    fetch(path, init = {}) {
      const headers = new Headers(init.headers);
      if (env.API_KEY && !headers.has("x-api-key")) headers.set("x-api-key", env.API_KEY);
      return fetch(`${process.url}${path}`, { ...init, headers });
    },
    child,
    logs,
    exited,
    waitForLog,
    kill(signal) {
      try {
        child.kill(signal);
      } catch {
        // already exited
      }
    },
    async dispose() {
      process.kill("SIGKILL");
      await exited;
    },
  };
  if (options.noWait) return process;
  try {
    const listening = await waitForLog((line) => line.msg === "gateway listening");
    process.url = String(listening.url);
  } catch (error) {
    await process.dispose();
    throw error;
  }
  return process;
}

/** Stops a gateway with SIGTERM and fails unless it drained and exited 0. */
export async function stopGracefully(gateway: GatewayProcess): Promise<void> {
  gateway.kill("SIGTERM");
  const { code } = await gateway.exited;
  if (code !== 0) throw new Error(`the gateway exited ${code} after SIGTERM, not 0`);
}
