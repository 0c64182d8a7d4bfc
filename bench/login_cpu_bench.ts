/**
 * Login CPU benchmark: N linked sessions restored by a gateway process, this checkout's code side
 * by side with a baseline's (`--baseline`: a git ref, `main` by default, unpacked into a temporary
 * directory, or another checkout's directory), alternating in one run on the same data directory
 * and the same fake WhatsApp server. It reports the gateway's CPU per restored login (from
 * `/health` answering until every session is connected), the time from spawning the process
 * until all are connected, the gateway's RSS then, and the idle RSS (no sessions, the threads
 * that run connections loaded).
 *
 * `--workers 0,2` adds rows for this checkout with those `CONNECTION_WORKERS` (the default is
 * one a core but the main thread's); `--env` sets more environment for every gateway.
 *
 * Usage: deno run -A --frozen bench/login_cpu_bench.ts [--sessions 200] [--runs 3]
 *        [--baseline main] [--workers 0,2] [--env RESTORE_CONCURRENCY=32]
 */
import { startFakeWhatsApp } from "../tests/support/fake_whatsapp/server.ts";
import type { FakeWhatsApp } from "../tests/support/fake_whatsapp/server.ts";
import { GatewayClient } from "../tests/support/gateway_client.ts";
import { spawnGateway, stopGracefully } from "../tests/support/gateway_process.ts";
import { cpuSeconds, rssMiB } from "./_process_stats.ts";
import { linkSessions } from "./_link_sessions.ts";
import { fmt, machineLine, median, runsFromArgs, withBenchDir } from "./_report.ts";
import { withCheckout } from "./_checkout.ts";

const ROOT = new URL("../", import.meta.url).pathname;

function flag(name: string, fallback: string): string {
  const at = Deno.args.indexOf(name);
  return at >= 0 ? Deno.args[at + 1] : fallback;
}

/** `--env A=1,B=2`: extra environment for every gateway of the run (both variants). */
function extraEnv(): Record<string, string> {
  const value = flag("--env", "");
  return Object.fromEntries(value ? value.split(",").map((pair) => pair.split("=", 2)) : []);
}

function gatewayEnv(fake: FakeWhatsApp, overrides: Record<string, string> = {}) {
  return {
    WA_WS_URL: fake.wsUrl,
    WA_TEST_ROOT_PUBKEY: fake.rootPublicKeyBase64,
    LOG_LEVEL: "info",
    SHUTDOWN_TIMEOUT_MS: "60000",
    ...extraEnv(),
    ...overrides,
  };
}

interface Variant {
  label: string;
  root: string;
  env: Record<string, string>;
}

interface RestoreResult {
  /** From spawning the process until every session is connected. */
  ms: number;
  /** Gateway CPU from /health answering until every session is connected, per session. */
  cpuPerLoginMs: number;
  /** Gateway CPU from spawning until every session is connected. */
  gatewayCpu: number;
  fakeCpu: number;
  rss: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Restarts the gateway of `root` on `dataDir`; measures until all `count` are connected. */
async function measureRestore(
  fake: FakeWhatsApp,
  dataDir: string,
  count: number,
  { root, env }: Variant,
): Promise<RestoreResult> {
  const started = performance.now();
  const fakeCpuBefore = await cpuSeconds("self");
  const gateway = await spawnGateway({
    dataDir,
    env: gatewayEnv(fake, env),
    root,
    noWait: true,
  });
  try {
    const listening = await gateway.waitForLog((line) => line.msg === "gateway listening", 60_000);
    const cpuAtHealth = await cpuSeconds(gateway.child.pid);
    const client = new GatewayClient(String(listening.url), gateway.apiKey);
    // `/ready` is cheap to poll; the session list is read once it says the restore settled.
    while (true) {
      const ready = await fetch(`${listening.url}/ready`);
      await ready.body?.cancel();
      if (ready.status === 200) break;
      if (performance.now() - started > 600_000) throw new Error("restore took over 10 minutes");
      await sleep(20);
    }
    while ((await client.sessions()).filter((s) => s.status === "connected").length < count) {
      if (performance.now() - started > 600_000) throw new Error("restore took over 10 minutes");
      await sleep(100);
    }
    const ms = performance.now() - started;
    const gatewayCpu = await cpuSeconds(gateway.child.pid);
    const rss = await rssMiB(gateway.child.pid);
    const fakeCpu = (await cpuSeconds("self")) - fakeCpuBefore;
    await stopGracefully(gateway);
    return {
      ms,
      cpuPerLoginMs: ((gatewayCpu - cpuAtHealth) * 1000) / count,
      gatewayCpu,
      fakeCpu,
      rss,
    };
  } finally {
    await gateway.dispose();
  }
}

/** RSS of a gateway with no sessions, once the threads that run connections are loaded. */
async function idleRss({ root, env }: Variant): Promise<number> {
  return await withBenchDir(async (dataDir) => {
    const gateway = await spawnGateway({ dataDir, root, env });
    try {
      await gateway.waitForLog(
        (line) =>
          line.msg ===
            (env.CONNECTION_WORKERS === "0" ? "gateway listening" : "connection workers ready"),
        60_000,
      );
      await sleep(1000); // what the workers allocate right after they report ready
      return await rssMiB(gateway.child.pid);
    } finally {
      await gateway.dispose();
    }
  });
}

/** Runs the benchmark against `baselineRef` and returns the report as markdown. */
export async function runLoginCpuBench(
  count: number,
  runs: number,
  baselineRef: string,
  workerCounts: number[] = [],
): Promise<string> {
  return await withCheckout(ROOT, baselineRef, async (baselineRoot, commit) => {
    const variants: Variant[] = [
      { label: `baseline (${baselineRef}, ${commit.slice(0, 7)})`, root: baselineRoot, env: {} },
      { label: "this checkout", root: ROOT, env: {} },
      ...workerCounts.map((n) => ({
        label: `this checkout, CONNECTION_WORKERS=${n}`,
        root: ROOT,
        env: { CONNECTION_WORKERS: String(n) },
      })),
    ];
    const results = variants.map(() => ({ restores: [] as RestoreResult[], idle: [] as number[] }));
    const fake = await startFakeWhatsApp();
    try {
      await withBenchDir(async (dataDir) => {
        await linkSessions(fake, dataDir, count, gatewayEnv(fake));
        for (let run = 0; run < runs; run++) {
          // Alternating the order, so neither variant always runs on a warmer machine.
          const order = variants.map((_, i) => i);
          if (run % 2) order.reverse();
          for (const i of order) {
            results[i].restores.push(await measureRestore(fake, dataDir, count, variants[i]));
            results[i].idle.push(await idleRss(variants[i]));
          }
        }
      });
    } finally {
      await fake.close();
    }
    const rows = results.map(({ restores, idle }) => ({
      cpuPerLogin: median(restores.map((r) => r.cpuPerLoginMs)),
      ms: median(restores.map((r) => r.ms)),
      gatewayCpu: median(restores.map((r) => r.gatewayCpu)),
      fakeCpu: median(restores.map((r) => r.fakeCpu)),
      rss: median(restores.map((r) => r.rss)),
      idle: median(idle),
    }));
    const env = Object.entries(extraEnv()).map(([k, v]) => `${k}=${v}`).join(" ");
    const out = [
      await machineLine(runs),
      `${count} linked sessions restored on bare loopback${env ? `, with ${env}` : ""}.`,
      "",
      "| code | gateway CPU per login (ms) | time to all connected (ms) | gateway CPU (s) | fake server CPU (s) | RSS (MiB) | idle RSS (MiB) |",
      "|---|---:|---:|---:|---:|---:|---:|",
    ];
    const line = (label: string, row: (typeof rows)[number]) =>
      `| ${label} | ${fmt(row.cpuPerLogin, 1)} | ${fmt(row.ms)} | ${fmt(row.gatewayCpu, 1)} | ${
        fmt(row.fakeCpu, 1)
      } | ${fmt(row.rss, 1)} | ${fmt(row.idle, 1)} |`;
    const [base, now] = rows;
    out.push(
      line(variants[0].label, base),
      line(variants[1].label, now),
      `| this ÷ baseline | ${fmt(now.cpuPerLogin / base.cpuPerLogin, 2)}× | ${
        fmt(now.ms / base.ms, 2)
      }× | ${fmt(now.gatewayCpu / base.gatewayCpu, 2)}× | | ${fmt(now.rss / base.rss, 2)}× | ${
        fmt(now.idle / base.idle, 2)
      }× |`,
      ...rows.slice(2).map((row, i) => line(variants[i + 2].label, row)),
    );
    return out.join("\n");
  });
}

if (import.meta.main) {
  const count = Number(flag("--sessions", "200"));
  const workers = flag("--workers", "");
  console.log(
    await runLoginCpuBench(
      count,
      runsFromArgs(3),
      flag("--baseline", "main"),
      workers ? workers.split(",").map(Number) : [],
    ),
  );
}
