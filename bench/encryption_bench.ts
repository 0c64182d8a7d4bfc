/**
 * Encryption at rest benchmark: what AES-256-GCM costs the auth file store, plain against
 * encrypted, in one run on the same disk.
 *
 * 1. Key writes: 200 batches of 10 key files (about 1 KB each), each batch awaited, as Baileys
 *    writes pre-keys and sessions.
 * 2. Key reads: 2,000 reads of those files.
 * 3. Startup: opening a data directory of 200 linked sessions (creds.json plus 20 key files each);
 *    with a key this includes the key check and one trial decryption per session. Also the
 *    one-time migration of the same directory from plaintext.
 *
 * Usage: deno run -A bench/encryption_bench.ts [--runs 5]
 */
import { SessionIdSchema } from "../src/domain/session_id.ts";
import { createLogger } from "../src/logger.ts";
import type { AuthFileCodec } from "../src/persistence/auth_file_codec.ts";
import { createAesGcmCodec } from "../src/persistence/encrypted_auth_file.ts";
import { FileSessionStore } from "../src/persistence/file_session_store.ts";
import { singleOwnerFence } from "../src/domain/fence.ts";

const logger = createLogger({ level: "silent", format: "json" });
const KEY_FILE = new TextEncoder().encode(
  JSON.stringify({ public: "A".repeat(44), private: "B".repeat(44), padding: "x".repeat(900) }),
);
const SESSIONS = 200;
const FILES_PER_SESSION = 20;

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "encryption-bench-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function openStore(dir: string, codec?: AuthFileCodec): Promise<FileSessionStore> {
  const store = new FileSessionStore({ dataDir: dir, logger, codec });
  await store.open();
  return store;
}

/** Milliseconds for 200 awaited batches of 10 key files, then for 2,000 reads. */
async function writesAndReads(codec?: AuthFileCodec): Promise<{ write: number; read: number }> {
  return await withDir(async (dir) => {
    const store = await openStore(dir, codec);
    const auth = store.auth(singleOwnerFence(SessionIdSchema.parse("bench")));
    let started = performance.now();
    for (let batch = 0; batch < 200; batch++) {
      await auth.write(
        new Map(Array.from({ length: 10 }, (_, i) => [`pre-key-${batch * 10 + i}.json`, KEY_FILE])),
      );
    }
    const write = performance.now() - started;
    started = performance.now();
    for (let i = 0; i < 2_000; i++) await auth.read(`pre-key-${i}.json`);
    const read = performance.now() - started;
    await store.close();
    return { write, read };
  });
}

/** Fills `dir` with linked sessions through a store using `codec`. */
async function seed(dir: string, codec?: AuthFileCodec): Promise<void> {
  const store = await openStore(dir, codec);
  for (let s = 0; s < SESSIONS; s++) {
    const files = new Map<string, Uint8Array>([["creds.json", KEY_FILE]]);
    for (let i = 0; i < FILES_PER_SESSION; i++) files.set(`pre-key-${i}.json`, KEY_FILE);
    await store.auth(singleOwnerFence(SessionIdSchema.parse(`session-${s}`))).write(files);
  }
  await store.close();
}

async function timedOpen(dir: string, codec?: AuthFileCodec): Promise<number> {
  const started = performance.now();
  const store = await openStore(dir, codec);
  const ms = performance.now() - started;
  await store.close();
  return ms;
}

/** Startup with plain and encrypted directories, and the migration between them. */
async function startup(codec: AuthFileCodec) {
  return await withDir(async (dir) => {
    await seed(dir);
    const plain = await timedOpen(dir);
    const migration = await timedOpen(dir, codec);
    const encrypted = await timedOpen(dir, codec);
    return { plain, migration, encrypted };
  });
}

const fmt = (value: number, digits = 0) =>
  value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Runs every scenario `runs` times and returns the results as markdown. */
export async function runEncryptionBench(runs = 5): Promise<string> {
  const codec = await createAesGcmCodec(crypto.getRandomValues(new Uint8Array(32)));
  const lines: string[] = [
    `Deno ${Deno.version.deno}, ${Deno.build.os}/${Deno.build.arch}, ` +
    `${navigator.hardwareConcurrency} CPUs; median of ${runs} runs.`,
    "",
    "| auth files | 200 batches of 10 writes (ms per batch) | 2,000 reads (µs per read) |",
    "| ---------- | --------------------------------------: | ------------------------: |",
  ];
  for (const [label, chosen] of [["plain", undefined], ["AES-256-GCM", codec]] as const) {
    const results = [];
    for (let i = 0; i < runs; i++) results.push(await writesAndReads(chosen));
    lines.push(
      `| ${label} | ${fmt(median(results.map((r) => r.write)) / 200, 2)} | ` +
        `${fmt((median(results.map((r) => r.read)) * 1000) / 2_000, 1)} |`,
    );
  }
  const opens = [];
  for (let i = 0; i < runs; i++) opens.push(await startup(codec));
  lines.push(
    "",
    `| opening ${SESSIONS} linked sessions (${FILES_PER_SESSION + 1} files each) | ms |`,
    "| ------------------------------------------------- | -: |",
    `| plain | ${fmt(median(opens.map((o) => o.plain)), 1)} |`,
    `| encrypted (key check + one trial decryption per session) | ${
      fmt(median(opens.map((o) => o.encrypted)), 1)
    } |`,
    `| first open with a key: migrating every file | ${
      fmt(median(opens.map((o) => o.migration)), 1)
    } |`,
  );
  return lines.join("\n");
}

if (import.meta.main) {
  const runsFlag = Deno.args.indexOf("--runs");
  const runs = runsFlag >= 0 ? Number(Deno.args[runsFlag + 1]) : 5;
  console.log(await runEncryptionBench(runs));
}
