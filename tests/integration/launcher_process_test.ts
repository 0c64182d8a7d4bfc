/**
 * `deno task start` and `deno task rotate-key` as an operator runs them, with a data directory
 * outside the repository that does not exist yet and key files somewhere else: they just work,
 * the gateway process gets exactly those paths, and SIGTERM drains it through the launcher.
 */
import { strict as assert } from "node:assert";
import { REPO_ROOT } from "../support/child_process.ts";
import { withTempDir } from "../support/temp_dir.ts";

const processTest = { sanitizeOps: false, sanitizeResources: false };
const ENCRYPTION_KEY = btoa(String.fromCharCode(...new Uint8Array(32).fill(7)));
const NEW_ENCRYPTION_KEY = btoa(String.fromCharCode(...new Uint8Array(32).fill(9)));
const API_KEY = "launcher-test-key-0123456789";

/** The processes below `pid` (Linux), with their command lines. */
async function descendants(pid: number): Promise<{ pid: number; args: string[] }[]> {
  const children = new Map<number, number[]>();
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`).catch(() => "");
    const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    children.set(parent, [...(children.get(parent) ?? []), Number(entry.name)]);
  }
  const found: { pid: number; args: string[] }[] = [];
  const visit = async (at: number) => {
    for (const child of children.get(at) ?? []) {
      const cmdline = await Deno.readTextFile(`/proc/${child}/cmdline`).catch(() => "");
      found.push({ pid: child, args: cmdline.split("\0").filter(Boolean) });
      await visit(child);
    }
  };
  await visit(pid);
  return found;
}

/** Runs `deno task <name>` from the repository with `env` only, collecting its output. */
function spawnTask(name: string, env: Record<string, string>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", name],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1", ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const changed = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      output += chunk;
      for (const wake of changed) wake();
    }
  };
  const exited = Promise.all([pump(child.stdout), pump(child.stderr)]).then(() => child.status);
  /** Resolves with the first log line matching `pattern`; rejects if the task exits first. */
  const waitForOutput = async (pattern: RegExp): Promise<RegExpMatchArray> => {
    let done = false;
    exited.then(() => {
      done = true;
      for (const wake of changed) wake();
    });
    while (true) {
      const match = output.match(pattern);
      if (match) return match;
      if (done) throw new Error(`deno task ${name} exited; output:\n${output}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          changed.delete(wake);
          resolve();
        };
        changed.add(wake);
      });
    }
  };
  return { child, exited, waitForOutput, output: () => output };
}

const baseEnv = () => ({
  PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
  HOME: Deno.env.get("HOME") ?? "/tmp",
  ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
});

Deno.test(
  "deno task start runs on any SESSIONS_DATA_PATH with exactly its paths, and drains on SIGTERM",
  processTest,
  () =>
    withTempDir(async (root) => {
      const dataDir = `${root}/var lib/wa-gateway`; // absent, and with a space
      await Deno.mkdir(`${root}/secrets`);
      await Deno.writeTextFile(`${root}/secrets/api.key`, API_KEY, { mode: 0o600 });
      await Deno.writeTextFile(`${root}/secrets/sessions.key`, ENCRYPTION_KEY, { mode: 0o600 });
      const env = {
        ...baseEnv(),
        PORT: "0",
        SESSIONS_DATA_PATH: dataDir,
        API_KEY_FILE: `${root}/secrets/api.key`,
        SESSIONS_ENCRYPTION_KEY_FILE: `${root}/secrets/sessions.key`,
        CONNECTION_WORKERS: "1",
        WA_WS_URL: "ws://127.0.0.1:9",
      };
      const task = spawnTask("start", env);
      try {
        const [, url] = await task.waitForOutput(/"url":"(http:\/\/[^"]+)"[^\n]*gateway listening/);
        const list = await fetch(`${url}/api/sessions`, { headers: { "x-api-key": API_KEY } });
        assert.equal(list.status, 200);
        assert.deepEqual(await list.json(), { sessions: [] });
        assert.equal((await Deno.stat(dataDir)).mode! & 0o777, 0o700);

        // The gateway process was given these paths and nothing more.
        const gateway = (await descendants(task.child.pid)).find((p) =>
          p.args.at(-1) === `${REPO_ROOT}src/main.ts`
        );
        assert.ok(gateway, "the gateway runs as a child of the launcher");
        assert.deepEqual(gateway.args.slice(1), [
          "run",
          "--allow-net",
          "--allow-env",
          "--allow-sys=hostname",
          `--allow-read=${dataDir}`,
          `--allow-read=${root}/secrets/api.key`,
          `--allow-read=${root}/secrets/sessions.key`,
          `--allow-read=${REPO_ROOT}src`,
          `--allow-write=${dataDir}`,
          "--v8-flags=--expose-gc,--max-semi-space-size=2",
          `${REPO_ROOT}src/main.ts`,
        ]);

        task.child.kill("SIGTERM");
        const status = await task.exited;
        assert.equal(status.code, 0, task.output());
        assert.match(task.output(), /"msg":"drained; bye"/);
        assert.deepEqual(await descendants(task.child.pid), []);
      } finally {
        for (const { pid } of await descendants(task.child.pid)) {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch {
            // gone already
          }
        }
        try {
          task.child.kill("SIGKILL");
        } catch {
          // exited
        }
        await task.exited;
      }

      // rotate-key on the same directory, with the old and the new key in files elsewhere.
      await Deno.writeTextFile(`${root}/secrets/new.key`, NEW_ENCRYPTION_KEY, { mode: 0o600 });
      const rotation = spawnTask("rotate-key", {
        ...env,
        OLD_SESSIONS_ENCRYPTION_KEY_FILE: `${root}/secrets/sessions.key`,
        SESSIONS_ENCRYPTION_KEY_FILE: `${root}/secrets/new.key`,
      });
      const rotated = await rotation.exited;
      assert.equal(rotated.code, 0, rotation.output());
      assert.match(rotation.output(), /re-encrypted under the new key/);
    }),
);

Deno.test("deno task start refuses a path that no permission flag can name, before starting", async () => {
  const task = spawnTask("start", { ...baseEnv(), SESSIONS_DATA_PATH: "/tmp/a,b" });
  const status = await task.exited;
  assert.equal(status.code, 2);
  assert.match(
    task.output(),
    /SESSIONS_DATA_PATH=\/tmp\/a,b: a path with a comma cannot be granted/,
  );
});
