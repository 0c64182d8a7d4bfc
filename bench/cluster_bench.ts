/**
 * Scale-out on real processes and a real PostgreSQL: gateway nodes (`STORE=postgres`, each a
 * `deno run` child) on a throwaway PostgreSQL server, against the fake WhatsApp server in this
 * process. Side by side in one run, alternating run by run:
 *
 * - failover after `kill -9` of one of three nodes: the time from the kill until each of its
 *   sessions is recorded connected on another node, with the default `LEASE_TTL_MS` and a short
 *   one (what the lease costs);
 * - handoff after SIGTERM of one of three nodes (the same time, and how long the drain took);
 * - restore: every node of a stopped cluster started at once, one node against three, until
 *   every session is connected, and with three until the sessions are spread evenly;
 * - safety, during the failovers and handoffs: devices that ever had two live sockets (the fake
 *   server's `connectionOverlaps()`), and texts acknowledged (201) through the surviving nodes'
 *   API that never reached the contact.
 *
 * The sessions are linked once (through the API, with the fake server's phone scanning each QR)
 * and kept as template databases; every run starts on a fresh copy.
 *
 * Usage: deno run -A --frozen bench/cluster_bench.ts [--quick] [--runs N]
 */
import { type TestCluster } from "../tests/support/cluster.ts";
import { startFakeWhatsApp } from "../tests/support/fake_whatsapp/server.ts";
import { startTestPostgres } from "../tests/support/postgres_server.ts";
import {
  AcknowledgedSends,
  acquiredSince,
  connectedSince,
  copyDatabase,
  dropDatabase,
  emptyCluster,
  type Fleet,
  idsUpTo,
  keepAsTemplate,
  leaseTimeLeft,
  linkInto,
  startTogether,
} from "./_cluster_fleet.ts";
import { cpuSeconds } from "./_process_stats.ts";
import { fmt, loadLine, machineLine, median, runsFromArgs, withBenchDir } from "./_report.ts";

const QUICK = Deno.args.includes("--quick");
const FAILOVER_SESSIONS = QUICK ? 30 : 100;
const RESTORE_SESSIONS = QUICK ? 60 : 300;
const DEFAULT_TTL_MS = 20_000;
const SHORT_TTL_MS = 6_000;
const NODES = ["a", "b", "c"];
const VICTIM = "b";

// The simulated contact's libsignal (in this process) prints every Signal session it replaces:
// Baileys starts a new one with each contact after every restart or move (its usync refresh of
// LID sessions), so that is a line per moved session, and the session dump goes to stdout.
const consoleWarn = console.warn;
console.info = () => {};
console.warn = (...args: unknown[]) => {
  if (!String(args[0]).startsWith("Closing open session")) consoleWarn(...args);
};

/** The nearest-rank percentile `p` (0-100) of `values`. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

interface Move {
  /** Per moved session: ms from the kill or SIGTERM until connected elsewhere. */
  connectedMs: number[];
  /** Per moved session: ms from the kill or SIGTERM until another node acquired its lease. */
  acquiredMs: number[];
  /** What was left of the victim's leases when it was killed (ms, longest). */
  leaseLeftMs: number;
  /** SIGTERM only: ms until the node had drained and exited. */
  drainMs: number;
  acknowledged: number;
  /** Sends answered 503 (no live owner yet, or its owner gone). */
  refused: number;
  lost: number;
  overlaps: number;
  spread: Record<string, number>;
}

/** How many sessions each node holds, as the cluster's session list shows. */
async function spreadOf(cluster: TestCluster, via: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const s of await cluster.sessions(via)) {
    counts[s.node ?? "none"] = (counts[s.node ?? "none"] ?? 0) + 1;
  }
  return counts;
}

/**
 * Waits until `ids` are all connected since `since` and spread evenly over `nodes` (at most one
 * apart); throws after `evenWithinMs` more.
 */
async function waitBalanced(
  cluster: TestCluster,
  ids: string[],
  since: number,
  nodes: readonly string[] = NODES,
  evenWithinMs = 120_000,
): Promise<void> {
  await connectedSince(cluster, ids, { since, via: nodes[0], timeoutMs: 300_000 });
  const deadline = Date.now() + evenWithinMs;
  while (true) {
    const counts = Object.values(await spreadOf(cluster, nodes[0]));
    const connected = (await cluster.sessions(nodes[0])).every((s) => s.status === "connected");
    if (
      counts.length === nodes.length && Math.max(...counts) - Math.min(...counts) <= 1 && connected
    ) {
      return;
    }
    if (Date.now() > deadline) throw new Error(`never balanced: ${JSON.stringify(counts)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Three nodes on a copy of `template`, balanced and sending texts; then `kill -9` (or SIGTERM) of
 * one, timed until each of its sessions is connected on a survivor.
 */
async function measureMove(
  fleet: Fleet,
  template: string,
  count: number,
  how: "kill" | "term",
  ttlMs: number,
  run: string,
): Promise<Move> {
  const db = await copyDatabase(fleet.pg, template);
  const cluster = await emptyCluster(fleet, db, ttlMs);
  const ids = idsUpTo(count);
  const contact = `1888${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`;
  fleet.fake.addContact({ phoneNumber: contact, pushName: "Bench contact" });
  try {
    const startedAt = Date.now();
    await startTogether(cluster, fleet.pg, db, NODES, true);
    await waitBalanced(cluster, ids, startedAt);
    const spread = await spreadOf(cluster, "a");
    const onVictim = (await cluster.sessions("a")).filter((s) => s.node === VICTIM).map((s) =>
      s.id
    );
    const overlapsBefore = fleet.fake.connectionOverlaps().length;
    const survivors = NODES.filter((id) => id !== VICTIM);
    const sends = new AcknowledgedSends(cluster, survivors, ids, contact, run);
    sends.start();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const leaseLeftMs = (await leaseTimeLeft(fleet.pg, db, VICTIM))[0] ?? NaN;
    const at = Date.now();
    let drainMs = NaN;
    const gone = how === "kill" ? cluster.kill(VICTIM) : cluster.stop(VICTIM).then(() => {
      drainMs = Date.now() - at;
    });
    const moved = await connectedSince(cluster, onVictim, {
      since: at,
      via: "a",
      where: (node) => node !== VICTIM,
      timeoutMs: 120_000,
    });
    await gone;
    // A little more sending with every session on the survivors.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await sends.stop();
    const lost = await sends.lost(fleet.fake, 30_000);
    if (lost.length) console.error(`${run}: acknowledged but never received: ${lost.slice(0, 5)}`);
    return {
      connectedMs: [...moved.values()],
      acquiredMs: [...acquiredSince(cluster, onVictim, at).values()],
      leaseLeftMs,
      drainMs,
      acknowledged: sends.acknowledged.length,
      refused: sends.statuses.get(503) ?? 0,
      lost: lost.length,
      overlaps: fleet.fake.connectionOverlaps().length - overlapsBefore,
      spread,
    };
  } finally {
    await cluster.dispose();
    await dropDatabase(fleet.pg, db);
  }
}

interface Restore {
  /** Until the last session's owner recorded it connected. */
  ms: number;
  /** Until this process saw them all connected (the polling's delay on top). */
  observedMs: number;
  /** CPU time of every node process (main thread and connection workers), in seconds. */
  nodesCpu: number;
  spread: Record<string, number>;
  /** With several nodes: until the sessions were spread evenly and all connected (NaN: not in 180 s). */
  evenMs: number;
}

/** Every node of `nodes` started at once on a copy of `template`; timed until all connected. */
async function measureRestore(
  fleet: Fleet,
  template: string,
  count: number,
  nodes: string[],
  preRegister = false,
): Promise<Restore> {
  const db = await copyDatabase(fleet.pg, template);
  const cluster = await emptyCluster(fleet, db, DEFAULT_TTL_MS);
  try {
    const startedAt = Date.now();
    await startTogether(cluster, fleet.pg, db, nodes, preRegister);
    const connected = await connectedSince(cluster, idsUpTo(count), {
      since: startedAt,
      via: nodes[0],
      timeoutMs: 600_000,
    });
    const observedMs = Date.now() - startedAt;
    const cpu = await Promise.all(cluster.nodes.map((node) => cpuSeconds(node.gateway.child.pid)));
    const spread = await spreadOf(cluster, nodes[0]);
    // Nodes started together do not all see each other at first: how long until they even out.
    const evenMs = nodes.length === 1 ? NaN : await waitBalanced(
      cluster,
      idsUpTo(count),
      startedAt,
      nodes,
      180_000,
    ).then(() => Date.now() - startedAt, () => NaN);
    return {
      ms: Math.max(...connected.values()),
      observedMs,
      nodesCpu: cpu.reduce((sum, seconds) => sum + seconds, 0),
      spread,
      evenMs,
    };
  } finally {
    await cluster.dispose();
    await dropDatabase(fleet.pg, db);
  }
}

const spreadText = (spread: Record<string, number>) =>
  Object.entries(spread).sort().map(([node, n]) => `${node} ${n}`).join(", ");

/** Seconds until even (median), "—" for one node, or how many runs evened out at all. */
function evenCell(list: Restore[]): string {
  const evens = list.map((r) => r.evenMs);
  const finite = evens.filter(Number.isFinite);
  if (list.every((r) => Object.keys(r.spread).length <= 1) && finite.length === 0) return "—";
  if (finite.length < evens.length) return `${finite.length} of ${evens.length} runs in 180 s`;
  return fmt(median(finite) / 1000, 1);
}

function moveRow(label: string, moves: Move[]): string {
  const m = (f: (move: Move) => number) => median(moves.map(f));
  const all = moves.flatMap((move) => move.connectedMs);
  // A drained node released its leases: what was left of them does not matter.
  const leaseLeft = moves.every((move) => Number.isNaN(move.drainMs))
    ? fmt(m((x) => x.leaseLeftMs))
    : "—";
  return `| ${label} | ${fmt(m((x) => x.connectedMs.length))} | ${
    fmt(m((x) => percentile(x.connectedMs, 50)))
  } | ${fmt(m((x) => percentile(x.connectedMs, 99)))} | ${fmt(Math.max(...all))} | ${leaseLeft} | ${
    fmt(m((x) => percentile(x.acquiredMs, 50)))
  } | ${fmt(m((x) => percentile(x.connectedMs, 50) - percentile(x.acquiredMs, 50)))} |`;
}

function safetyRow(label: string, moves: Move[]): string {
  const sum = (f: (move: Move) => number) => moves.reduce((total, move) => total + f(move), 0);
  const cells = [
    moves.length,
    fmt(sum((x) => x.acknowledged)),
    fmt(sum((x) => x.refused)),
    sum((x) => x.lost),
    sum((x) => x.overlaps),
  ];
  return `| ${label} | ${cells.join(" | ")} |`;
}

/** Runs the benchmark and returns the report as markdown. */
export async function runClusterBench(runs: number): Promise<string> {
  const loadBefore = await loadLine();
  const pg = await startTestPostgres();
  const fake = await startFakeWhatsApp();
  try {
    return await withBenchDir(async (root) => {
      const fleet: Fleet = { pg, fake, root, env: { CONNECTION_WORKERS: "2" } };
      let started = performance.now();
      await pg.createDatabase("linking");
      await linkInto(fleet, "linking", 0, FAILOVER_SESSIONS);
      await copyDatabase(pg, "linking").then((name) => keepAsTemplate(pg, name, "linked_failover"));
      await linkInto(fleet, "linking", FAILOVER_SESSIONS, RESTORE_SESSIONS);
      await keepAsTemplate(pg, "linking", "linked_restore");
      const linkMs = performance.now() - started;
      console.error(`linked ${RESTORE_SESSIONS} sessions in ${fmt(linkMs / 1000)} s`);

      const killed = { long: [] as Move[], short: [] as Move[] };
      const handoffs: Move[] = [];
      const restores = {
        one: [] as Restore[],
        three: [] as Restore[],
        registered: [] as Restore[],
      };
      started = performance.now();
      for (let run = 0; run < runs; run++) {
        const tag = (what: string) => `${what}-${run}`;
        killed.long.push(
          await measureMove(
            fleet,
            "linked_failover",
            FAILOVER_SESSIONS,
            "kill",
            DEFAULT_TTL_MS,
            tag("kill20"),
          ),
        );
        killed.short.push(
          await measureMove(
            fleet,
            "linked_failover",
            FAILOVER_SESSIONS,
            "kill",
            SHORT_TTL_MS,
            tag("kill6"),
          ),
        );
        handoffs.push(
          await measureMove(
            fleet,
            "linked_failover",
            FAILOVER_SESSIONS,
            "term",
            DEFAULT_TTL_MS,
            tag("term"),
          ),
        );
        restores.one.push(await measureRestore(fleet, "linked_restore", RESTORE_SESSIONS, ["a"]));
        restores.three.push(await measureRestore(fleet, "linked_restore", RESTORE_SESSIONS, NODES));
        restores.registered.push(
          await measureRestore(fleet, "linked_restore", RESTORE_SESSIONS, NODES, true),
        );
        console.error(
          `run ${run + 1} of ${runs} done after ${fmt((performance.now() - started) / 1000)} s`,
        );
      }
      const restoreRow = (label: string, list: Restore[]) => {
        const m = (f: (restore: Restore) => number) => median(list.map(f));
        const each = list.map((r) => `${fmt(r.ms / 1000, 1)} s (${spreadText(r.spread)})`);
        const cells = [
          RESTORE_SESSIONS,
          fmt(m((r) => r.ms)),
          fmt((RESTORE_SESSIONS * 1000) / m((r) => r.ms), 1),
          fmt(m((r) => r.observedMs)),
          fmt(m((r) => r.nodesCpu), 1),
          fmt((m((r) => r.nodesCpu) * 1000) / RESTORE_SESSIONS),
          evenCell(list),
          each.join("; "),
        ];
        return `| ${label} | ${cells.join(" | ")} |`;
      };
      return [
        await machineLine(runs),
        `Load average before: ${loadBefore}; after: ${await loadLine()}.`,
        `Linking ${RESTORE_SESSIONS} sessions (once, before the runs): ${fmt(linkMs / 1000)} s.`,
        "",
        `### Failover and handoff: ${FAILOVER_SESSIONS} sessions on three nodes, one of them stopped`,
        "",
        "| what | sessions moved | p50 (ms) | p99 (ms) | max, every run (ms) | lease left at the kill (ms) | until acquired, p50 (ms) | acquired → connected, p50 (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        moveRow(`kill -9, LEASE_TTL_MS=${DEFAULT_TTL_MS}`, killed.long),
        moveRow(`kill -9, LEASE_TTL_MS=${SHORT_TTL_MS}`, killed.short),
        moveRow(`SIGTERM, LEASE_TTL_MS=${DEFAULT_TTL_MS}`, handoffs),
        "",
        `SIGTERM drain (signal to exit 0), median: ${
          fmt(median(handoffs.map((h) => h.drainMs)))
        } ms. ` +
        `Spread before the stop: ${spreadText(killed.long[0].spread)}.`,
        "",
        "### Safety during the moves",
        "",
        "| what | runs | texts acknowledged (201) | answered 503 (no live owner) | acknowledged but never received | devices with two live sockets |",
        "|---|---:|---:|---:|---:|---:|",
        safetyRow(`kill -9, LEASE_TTL_MS=${DEFAULT_TTL_MS}`, killed.long),
        safetyRow(`kill -9, LEASE_TTL_MS=${SHORT_TTL_MS}`, killed.short),
        safetyRow(`SIGTERM, LEASE_TTL_MS=${DEFAULT_TTL_MS}`, handoffs),
        "",
        "### Restore: every node of a stopped cluster started at once",
        "",
        "| nodes | sessions | time to all connected (ms) | sessions/s | seen by polling (ms) | nodes' CPU (s) | CPU per session (ms) | spread evenly (s) | each run: time (spread when all connected) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        restoreRow("one", restores.one),
        restoreRow("three", restores.three),
        restoreRow("three, registered before they start", restores.registered),
      ].join("\n");
    });
  } finally {
    await fake.close();
    await pg.stop();
  }
}

if (import.meta.main) {
  console.log(await runClusterBench(runsFromArgs(QUICK ? 1 : 3)));
}
