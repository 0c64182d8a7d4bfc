/**
 * Session store benchmark: the durable group-commit `FileSessionStore` against a naive
 * read-modify-write JSON store (`naive_session_store.ts`), on the same disk, in one run.
 *
 * 1. 1,000 concurrent saves of distinct ids into an empty store: time, entries kept, kept
 *    updates per second, metadata file writes.
 * 2. Sequential saves (each awaited) with 10 / 1,000 / 10,000 sessions already stored.
 *
 * Prints markdown tables; `docs/benchmarks.md` keeps the results.
 *
 * Usage: deno run -A bench/store_bench.ts [--runs 5]
 */
import { type SessionRecord, SessionRecordSchema } from "../src/domain/session.ts";
import { createLogger } from "../src/logger.ts";
import { FileSessionStore } from "../src/persistence/file_session_store.ts";
import { serializeMetadata } from "../src/persistence/metadata_file.ts";
import { NaiveSessionStore } from "./naive_session_store.ts";
import { fmt, machineLine, median, runsFromArgs, withBenchDir } from "./_report.ts";

const METADATA = "sessions-metadata.json";
const logger = createLogger({ level: "silent", format: "json" });

/** A realistic record: every field set, as for a linked session. */
function record(i: number, round = 0): SessionRecord {
  return SessionRecordSchema.parse({
    id: `session-${i}`,
    name: `Shop number ${i}`,
    status: "connected",
    desiredState: "running",
    phoneNumber: `1555${String(i).padStart(7, "0")}`,
    pushName: `Shop ${i}`,
    createdAt: "2025-01-01T00:00:00.000Z",
    updatedAt: new Date(Date.UTC(2025, 0, 1, 0, 0, round)).toISOString(),
    connectedAt: "2025-01-01T00:00:00.000Z",
    lastDisconnectedAt: null,
    lastDisconnect: null,
  });
}

/** Entries in the metadata file, or `null` when the file is not even valid JSON any more. */
async function keptEntries(path: string): Promise<number | null> {
  try {
    return Object.keys(JSON.parse(await Deno.readTextFile(path))).length;
  } catch {
    return null;
  }
}

interface ConcurrentResult {
  ms: number;
  failed: number;
  kept: number | null;
  fileWrites: number | null;
}

async function concurrentDurable(count: number): Promise<ConcurrentResult> {
  return await withBenchDir(async (dir) => {
    const store = new FileSessionStore({ dataDir: dir, logger });
    await store.open();
    const writesBefore = store.metadataWrites;
    const records = Array.from({ length: count }, (_, i) => record(i));
    const started = performance.now();
    const results = await Promise.allSettled(records.map((r) => store.create(r)));
    const ms = performance.now() - started;
    const fileWrites = store.metadataWrites - writesBefore;
    await store.close();
    const failed = results.filter((r) => r.status === "rejected").length;
    return { ms, failed, kept: await keptEntries(`${dir}/${METADATA}`), fileWrites };
  });
}

async function concurrentNaive(count: number): Promise<ConcurrentResult> {
  return await withBenchDir(async (dir) => {
    const store = new NaiveSessionStore(`${dir}/${METADATA}`);
    const records = Array.from({ length: count }, (_, i) => record(i));
    const started = performance.now();
    const results = await Promise.allSettled(records.map((r) => store.save(r)));
    const ms = performance.now() - started;
    const failed = results.filter((r) => r.status === "rejected").length;
    return {
      ms,
      failed,
      kept: await keptEntries(`${dir}/${METADATA}`),
      fileWrites: count - failed,
    };
  });
}

/** Sequential saves (each awaited) of existing ids, round-robin, with `stored` sessions present. */
async function sequential(
  kind: "durable" | "naive",
  stored: number,
  saves: number,
): Promise<{ ms: number; lost: number }> {
  return await withBenchDir(async (dir) => {
    const path = `${dir}/${METADATA}`;
    await Deno.writeFile(
      path,
      serializeMetadata(Array.from({ length: stored }, (_, i) => record(i))),
    );
    let save: (r: SessionRecord) => Promise<void>;
    let close = () => Promise.resolve();
    if (kind === "durable") {
      const store = new FileSessionStore({ dataDir: dir, logger });
      await store.open();
      save = async (r) => {
        await store.updateSpec(r.id, () => ({ name: r.name, updatedAt: r.updatedAt }));
      };
      close = () => store.close();
    } else {
      const store = new NaiveSessionStore(path);
      save = (r) => store.save(r);
    }
    const started = performance.now();
    for (let n = 0; n < saves; n++) await save(record(n % stored, n + 1));
    const ms = performance.now() - started;
    await close();
    return { ms, lost: stored - ((await keptEntries(path)) ?? 0) };
  });
}

/** Runs both scenarios and returns the report as markdown. */
export async function runStoreBench(runs = 5): Promise<string> {
  const CONCURRENT = 1000;
  const out: string[] = [];
  out.push(
    await machineLine(runs),
    "",
    `### ${fmt(CONCURRENT)} concurrent saves of distinct ids`,
    "",
    "| store | time (ms) | saves rejected | entries kept | lost updates | kept updates/s | metadata file writes |",
    "|---|---:|---:|---:|---:|---:|---:|",
  );
  const keptPerSecond: Record<string, number> = {};
  for (
    const [label, run] of [["durable group commit", concurrentDurable], [
      "naive read-modify-write",
      concurrentNaive,
    ]] as const
  ) {
    const results: ConcurrentResult[] = [];
    for (let i = 0; i < runs; i++) results.push(await run(CONCURRENT));
    const ms = median(results.map((r) => r.ms));
    const keptCounts = results.map((r) => r.kept ?? 0);
    const kept = median(keptCounts);
    const corrupt = results.filter((r) => r.kept === null).length;
    const rate = median(results.map((r) => ((r.kept ?? 0) * 1000) / r.ms));
    keptPerSecond[label] = rate;
    out.push(
      `| ${label} | ${fmt(ms, 1)} | ${fmt(median(results.map((r) => r.failed)))} | ` +
        `${fmt(kept)}${corrupt ? ` (file corrupt in ${corrupt}/${runs} runs)` : ""} | ` +
        `${fmt(CONCURRENT - Math.min(...keptCounts))} (worst run) | ${fmt(rate)} | ` +
        `${fmt(median(results.map((r) => r.fileWrites ?? 0)))} |`,
    );
  }
  const naiveRate = keptPerSecond["naive read-modify-write"];
  out.push(
    "",
    `Kept updates per second, durable ÷ naive: ${
      naiveRate > 0
        ? `${fmt(keptPerSecond["durable group commit"] / naiveRate, 0)}×`
        : "∞ (naive kept none)"
    }.`,
    "",
    "### Sequential saves (each awaited) with sessions already stored",
    "",
    "| sessions stored | store | saves | ms per save | saves/s | entries lost |",
    "|---:|---|---:|---:|---:|---:|",
  );
  for (const stored of [10, 1_000, 10_000]) {
    const saves = stored >= 10_000 ? 50 : 200;
    for (const kind of ["durable", "naive"] as const) {
      const results = [];
      for (let i = 0; i < runs; i++) results.push(await sequential(kind, stored, saves));
      const perSave = median(results.map((r) => r.ms / saves));
      out.push(
        `| ${fmt(stored)} | ${
          kind === "durable" ? "durable group commit" : "naive read-modify-write"
        } | ` +
          `${saves} | ${fmt(perSave, 2)} | ${fmt(1000 / perSave)} | ${
            Math.max(...results.map((r) => r.lost))
          } |`,
      );
    }
  }
  return out.join("\n");
}

if (import.meta.main) {
  console.log(await runStoreBench(runsFromArgs(5)));
}
