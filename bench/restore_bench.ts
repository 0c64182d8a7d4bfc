/**
 * Restore benchmark: N linked sessions, gateway restarted — how long until every session is
 * `connected` again, and the gateway's RSS then. Bounded-parallel restore (RESTORE_CONCURRENCY=16)
 * against one-at-a-time (RESTORE_CONCURRENCY=1, the seed's loop), side by side in one run, on
 * the same data directory, against the fake WhatsApp server on loopback.
 *
 * `--latency MS` delays every frame the fake server sends by MS (one way), to model the network
 * between a gateway and WhatsApp; on bare loopback a login costs only CPU.
 *
 * Usage: deno run -A --frozen bench/restore_bench.ts [--sessions 50,200] [--latency 50] [--runs 1]
 */
import { startFakeWhatsApp } from "../tests/support/fake_whatsapp/server.ts";
import type { FakeWhatsApp } from "../tests/support/fake_whatsapp/server.ts";
import { GatewayClient } from "../tests/support/gateway_client.ts";
import { spawnGateway, stopGracefully } from "../tests/support/gateway_process.ts";
import { cpuSeconds, fmt, machineLine, median, runsFromArgs, withBenchDir } from "./_report.ts";

function sessionCounts(): number[] {
  const flag = Deno.args.indexOf("--sessions");
  const value = flag >= 0 ? Deno.args[flag + 1] : "50,200";
  return value.split(",").map(Number);
}

function latencyMs(): number {
  const flag = Deno.args.indexOf("--latency");
  return flag >= 0 ? Number(Deno.args[flag + 1]) : 0;
}

function gatewayEnv(fake: FakeWhatsApp, concurrency: number): Record<string, string> {
  return {
    WA_WS_URL: fake.wsUrl,
    WA_TEST_ROOT_PUBKEY: fake.rootPublicKeyBase64,
    RESTORE_CONCURRENCY: String(concurrency),
    LOG_LEVEL: "info",
    SHUTDOWN_TIMEOUT_MS: "60000",
  };
}

async function rssMiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? 0);
  return kib / 1024;
}

/** Links `count` sessions through one gateway, then stops it cleanly. */
async function linkSessions(fake: FakeWhatsApp, dataDir: string, count: number): Promise<void> {
  const gateway = await spawnGateway({ dataDir, env: gatewayEnv(fake, 16) });
  const client = new GatewayClient(gateway.url, gateway.apiKey);
  try {
    const ids = Array.from({ length: count }, (_, i) => `bench-${i}`);
    for (let start = 0; start < ids.length; start += 10) {
      await Promise.all(
        ids.slice(start, start + 10).map(async (id, j) => {
          await client.createSession(id);
          const qr = await client.waitForQr(id, 60_000);
          await fake.pairWithQr(qr, { phoneNumber: `1666${String(start + j).padStart(7, "0")}` });
          await client.waitForStatus(id, "connected", 60_000);
        }),
      );
    }
    await stopGracefully(gateway);
  } finally {
    await gateway.dispose();
  }
}

/** Restarts the gateway on `dataDir` and measures the time until all `count` are connected. */
async function measureRestore(
  fake: FakeWhatsApp,
  dataDir: string,
  count: number,
  concurrency: number,
): Promise<{ ms: number; rss: number; gatewayCpu: number; fakeCpu: number }> {
  const started = performance.now();
  const fakeCpuBefore = await cpuSeconds("self");
  const gateway = await spawnGateway({ dataDir, env: gatewayEnv(fake, concurrency) });
  const client = new GatewayClient(gateway.url, gateway.apiKey);
  try {
    while (true) {
      const sessions = await client.sessions();
      if (sessions.filter((s) => s.status === "connected").length === count) break;
      if (performance.now() - started > 600_000) throw new Error("restore took over 10 minutes");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const ms = performance.now() - started;
    const rss = await rssMiB(gateway.child.pid);
    const gatewayCpu = await cpuSeconds(gateway.child.pid);
    // This process runs the fake server (and the polling client, a small part).
    const fakeCpu = (await cpuSeconds("self")) - fakeCpuBefore;
    await stopGracefully(gateway);
    return { ms, rss, gatewayCpu, fakeCpu };
  } finally {
    await gateway.dispose();
  }
}

/** RSS of a gateway with no sessions, once it listens. */
async function idleRss(): Promise<number> {
  return await withBenchDir(async (dataDir) => {
    const gateway = await spawnGateway({ dataDir });
    try {
      // Idle means with its connection workers loaded, as a gateway with sessions has them.
      await gateway.waitForLog((line) => line.msg === "connection workers ready");
      return await rssMiB(gateway.child.pid);
    } finally {
      await gateway.dispose();
    }
  });
}

/** Runs the benchmark and returns the report as markdown. */
export async function runRestoreBench(counts: number[], runs: number): Promise<string> {
  const latency = latencyMs();
  const out = [
    await machineLine(runs),
    `Fake server latency: ${latency} ms one way.`,
    "",
    "| sessions | restore | time to all connected (ms) | sessions/s | RSS (MiB) | RSS per session (MiB) | gateway CPU (s) | fake server CPU (s) |",
    "|---:|---|---:|---:|---:|---:|---:|---:|",
  ];
  const idle = await idleRss();
  const fake = await startFakeWhatsApp({ latencyMs: latency });
  try {
    for (const count of counts) {
      await withBenchDir(async (dataDir) => {
        await linkSessions(fake, dataDir, count);
        const times: Record<string, number> = {};
        for (const [label, concurrency] of [["bounded, 16 at once", 16], ["one at a time", 1]]) {
          const results = [];
          for (let i = 0; i < runs; i++) {
            results.push(await measureRestore(fake, dataDir, count, Number(concurrency)));
          }
          const ms = median(results.map((r) => r.ms));
          const rss = median(results.map((r) => r.rss));
          times[label] = ms;
          const gatewayCpu = median(results.map((r) => r.gatewayCpu));
          const fakeCpu = median(results.map((r) => r.fakeCpu));
          out.push(
            `| ${count} | ${label} | ${fmt(ms)} | ${fmt((count * 1000) / ms, 1)} | ${
              fmt(rss, 1)
            } | ${fmt((rss - idle) / count, 2)} | ${fmt(gatewayCpu, 1)} | ${fmt(fakeCpu, 1)} |`,
          );
        }
        out.push(
          `| ${count} | speed-up | ${
            fmt(times["one at a time"] / times["bounded, 16 at once"], 1)
          }× | | | | | |`,
        );
      });
    }
  } finally {
    await fake.close();
  }
  out.push("", `Idle gateway RSS (no sessions): ${fmt(idle, 1)} MiB.`);
  return out.join("\n");
}

if (import.meta.main) {
  console.log(await runRestoreBench(sessionCounts(), runsFromArgs(1)));
}
