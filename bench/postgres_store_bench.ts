/**
 * The PostgreSQL store against the file store, side by side in one run: auth write batches (1,000
 * pre-keys in one batch, as at pairing; one session key, as per message) and 1,000 concurrent
 * metadata writes (creates, then owner reports); the message store's puts (each awaited, and 10
 * sessions × 8 in flight). The database is a throwaway server on this machine (fsync on, the same
 * disk as the data directory), started by the test support.
 *
 * Prints markdown tables; `docs/benchmarks.md` keeps the results.
 *
 * Usage: deno run -A bench/postgres_store_bench.ts [--runs 5]
 */
import postgres from "postgres";
import { type Fence, singleOwnerFence } from "../src/domain/fence.ts";
import { SessionRecordSchema } from "../src/domain/session.ts";
import type { SessionId } from "../src/domain/session_id.ts";
import type { MessageStore } from "../src/domain/message_store.ts";
import type { SessionStore } from "../src/domain/session_store.ts";
import { createLogger } from "../src/logger.ts";
import { FileSessionStore } from "../src/persistence/file_session_store.ts";
import { FileMessageStore } from "../src/persistence/message_store/file_message_store.ts";
import { PostgresMessageStore } from "../src/persistence/postgres/message_store/postgres_message_store.ts";
import { PostgresLeaseLock } from "../src/persistence/postgres/postgres_lease_lock.ts";
import { PostgresSessionStore } from "../src/persistence/postgres/postgres_session_store.ts";
import { startTestPostgres, type TestPostgres } from "../tests/support/postgres_server.ts";
import { fmt, machineLine, median, runsFromArgs, withBenchDir } from "./_report.ts";
import { timePuts } from "./message_store_bench.ts";

const logger = createLogger({ level: "silent", format: "json" });
const encoder = new TextEncoder();
const CONCURRENT = 1_000;
const SINGLE_WRITES = 50;
const SEQUENTIAL_PUTS = 200;
const CONCURRENT_PUTS = 2_000;
const retention = { maxAgeMs: 14 * 86_400_000, maxBytesPerSession: 32 * 1024 * 1024 };

interface Harness {
  store: SessionStore;
  messages: MessageStore;
  fence(id: SessionId): Promise<Fence>;
  close(): Promise<void>;
}

const record = (i: number) =>
  SessionRecordSchema.parse({
    id: `session-${i}`,
    name: `Shop number ${i}`,
    status: "connected",
    phoneNumber: `1555${String(i).padStart(7, "0")}`,
    createdAt: "2025-01-01T00:00:00.000Z",
  });

/** 1,000 pre-keys as Baileys writes them at pairing (about 200 bytes of JSON each). */
function preKeys(): Map<string, Uint8Array> {
  const batch = new Map<string, Uint8Array>();
  for (let i = 1; i <= 1_000; i++) {
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
    batch.set(`pre-key-${i}.json`, encoder.encode(JSON.stringify({ private: key, public: key })));
  }
  return batch;
}

async function fileHarness(dir: string): Promise<Harness> {
  const store = new FileSessionStore({ dataDir: dir, logger });
  await store.open();
  const messages = new FileMessageStore({ dataDir: dir, logger, retention });
  await messages.open();
  return {
    store,
    messages,
    fence: (id) => Promise.resolve(singleOwnerFence(id)),
    close: async () => {
      await messages.close();
      await store.close();
    },
  };
}

async function postgresHarness(pg: TestPostgres, run: number): Promise<Harness> {
  const url = await pg.createDatabase(`bench_${run}_${crypto.randomUUID().slice(0, 8)}`);
  const sql = postgres(url, { max: 10, onnotice: () => {} });
  const store = new PostgresSessionStore({ sql, nodeId: "bench", logger });
  await store.open();
  const messages = new PostgresMessageStore({ sql, nodeId: "bench", logger, retention });
  await messages.open();
  const lock = new PostgresLeaseLock(sql, "bench");
  return {
    store,
    messages,
    fence: async (id) => {
      const [lease] = await lock.acquire([id], 3_600_000);
      return lease;
    },
    close: async () => {
      await messages.close();
      await store.close();
      await sql.end();
    },
  };
}

interface Timings {
  preKeyBatchMs: number;
  sessionKeyMs: number;
  createsMs: number;
  reportsMs: number;
  /** µs per message. */
  sequentialPutUs: number;
  concurrentPutUs: number;
}

async function measure(harness: Harness): Promise<Timings> {
  const { store } = harness;
  await store.create(record(0));
  const fence = await harness.fence("session-0" as SessionId);
  const batch = preKeys();
  let started = performance.now();
  await store.auth(fence).write(batch);
  const preKeyBatchMs = performance.now() - started;

  const single: number[] = [];
  for (let i = 0; i < SINGLE_WRITES; i++) {
    const key = encoder.encode(JSON.stringify({ session: i, chain: "x".repeat(900) }));
    started = performance.now();
    await store.auth(fence).write(new Map([[`session-1555000${i % 5}.0.json`, key]]));
    single.push(performance.now() - started);
  }

  const records = Array.from({ length: CONCURRENT }, (_, i) => record(i + 1));
  started = performance.now();
  await Promise.all(records.map((r) => store.create(r)));
  const createsMs = performance.now() - started;
  const fences = await Promise.all(records.map((r) => harness.fence(r.id)));
  started = performance.now();
  await Promise.all(fences.map((f, i) => store.report(f, { pushName: `push ${i}` })));
  const reportsMs = performance.now() - started;
  const putFences = fences.slice(0, 10);
  const sequentialMs = await timePuts(harness.messages, putFences, SEQUENTIAL_PUTS, false);
  const concurrentMs = await timePuts(harness.messages, putFences, CONCURRENT_PUTS, true);
  return {
    preKeyBatchMs,
    sessionKeyMs: median(single),
    createsMs,
    reportsMs,
    sequentialPutUs: (sequentialMs * 1000) / SEQUENTIAL_PUTS,
    concurrentPutUs: (concurrentMs * 1000) / CONCURRENT_PUTS,
  };
}

/** Runs both stores `runs` times, alternating, and returns the report as markdown. */
export async function runPostgresStoreBench(runs = 5): Promise<string> {
  const pg = await startTestPostgres();
  const results = { file: [] as Timings[], postgres: [] as Timings[] };
  try {
    for (let run = 0; run < runs; run++) {
      await withBenchDir(async (dir) => {
        const harness = await fileHarness(dir);
        try {
          results.file.push(await measure(harness));
        } finally {
          await harness.close();
        }
      });
      const harness = await postgresHarness(pg, run);
      try {
        results.postgres.push(await measure(harness));
      } finally {
        await harness.close();
      }
    }
  } finally {
    await pg.stop();
  }
  const m = (kind: "file" | "postgres", field: keyof Timings) =>
    median(results[kind].map((t) => t[field]));
  const row = (label: string, field: keyof Timings, digits = 1) =>
    `| ${label} | ${fmt(m("file", field), digits)} | ${fmt(m("postgres", field), digits)} | ${
      fmt(m("postgres", field) / m("file", field), 1)
    }× |`;
  return [
    await machineLine(runs),
    "",
    "| operation (ms) | file store | PostgreSQL | PostgreSQL ÷ file |",
    "|---|---:|---:|---:|",
    row("auth batch: 1,000 pre-keys in one write", "preKeyBatchMs"),
    row(`auth write: one session key (median of ${SINGLE_WRITES})`, "sessionKeyMs", 2),
    row(`${fmt(CONCURRENT)} concurrent creates`, "createsMs"),
    row(`${fmt(CONCURRENT)} concurrent owner reports (fenced)`, "reportsMs"),
    "",
    "| message store put (µs per message) | file store | PostgreSQL | PostgreSQL ÷ file |",
    "|---|---:|---:|---:|",
    row(`${fmt(SEQUENTIAL_PUTS)} puts, each awaited, 1 session`, "sequentialPutUs", 0),
    row(`${fmt(CONCURRENT_PUTS)} puts, 10 sessions × 8 in flight`, "concurrentPutUs", 0),
  ].join("\n");
}

if (import.meta.main) {
  console.log(await runPostgresStoreBench(runsFromArgs(5)));
}
