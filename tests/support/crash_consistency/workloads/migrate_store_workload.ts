/**
 * `deno task migrate-store -- to-file` (`src/migrate_store_cli.ts`): a PostgreSQL database copied
 * into an empty data directory: records, auth files, pending deliveries with their failed
 * attempts, a dead letter and the generated API key. The copy into PostgreSQL writes no file: its
 * durability is the database's, not this harness's.
 *
 * Child: `deno run migrate_store_workload.ts <root> <database url>`; says `{op:"migrated"}` once
 * the command exited 0 ("copied and verified"). Before that a crash may leave any part of the
 * copy (the command refuses a directory that is not empty, so the operator starts again on an
 * empty one); after it, every byte must be in the data directory as the next start reads it.
 */
import { join } from "node:path";
import type { SessionId } from "../../../../src/domain/session_id.ts";
import { singleOwnerFence } from "../../../../src/domain/fence.ts";
import { runMigrateStoreCli } from "../../../../src/migrate_store_cli.ts";
import { API_KEY_FILE_NAME } from "../../../../src/persistence/data_dir_layout.ts";
import { FileSessionStore } from "../../../../src/persistence/file_session_store.ts";
import { FileWebhookOutbox } from "../../../../src/persistence/file_webhook_outbox.ts";
import { migrate } from "../../../../src/persistence/postgres/migrations.ts";
import { openDatabaseClient } from "../../../../src/persistence/postgres/postgres_client.ts";
import { PostgresLeaseLock } from "../../../../src/persistence/postgres/postgres_lease_lock.ts";
import { PostgresSessionStore } from "../../../../src/persistence/postgres/postgres_session_store.ts";
import { PostgresWebhookOutbox } from "../../../../src/persistence/postgres/postgres_webhook_outbox.ts";
import { sessionRecord, silentLogger } from "../../persistence_fixtures.ts";
import { outboxEntry } from "../../webhook_outbox_contract.ts";
import { type CrashTree, materialize } from "../crash_states.ts";
import { acknowledge, type CrashWorkload } from "../harness.ts";

const DATA = "data";
const SESSIONS = ["shop-1", "shop-2", "shop-3"];
const FILES = ["creds.json", ...Array.from({ length: 5 }, (_, i) => `pre-key-${i}.json`)];
const API_KEY = "generated-api-key-0123456789abcdef";
/** Pending deliveries and their failed attempts; `dlv_9` is a dead letter. */
const PENDING: [string, number][] = [["dlv_1", 3], ["dlv_2", 0], ["dlv_3", 1]];
const content = (session: string, name: string) =>
  JSON.stringify({ session, name, pad: "p".repeat(300) });

/** Fills the database the copy reads. */
async function seed(databaseUrl: string): Promise<void> {
  const sql = openDatabaseClient(databaseUrl, { max: 2 });
  try {
    await migrate(sql, silentLogger);
    const store = new PostgresSessionStore({ sql, nodeId: "seed", logger: silentLogger });
    await store.open();
    const lock = new PostgresLeaseLock(sql, "seed");
    for (const session of SESSIONS) {
      await store.create(sessionRecord(session, { name: `name of ${session}` }));
      const [lease] = await lock.acquire([session as SessionId], 60_000);
      await store.auth(lease).write(
        new Map(FILES.map((name) => [name, new TextEncoder().encode(content(session, name))])),
      );
      await lock.release([lease]);
    }
    await store.close();
    const outbox = new PostgresWebhookOutbox({ sql, nodeId: "seed", logger: silentLogger });
    await outbox.open();
    const [, , , dead] = await outbox.append(
      [outboxEntry(1), outboxEntry(2, "shop-2"), outboxEntry(3), outboxEntry(9, "shop-3")],
    );
    for (const [id, attempts] of PENDING) {
      if (attempts > 0) await outbox.recordFailedAttempts(id, attempts);
    }
    await outbox.deadLetter(dead, { attempts: 10, lastError: "HTTP 500" });
    await outbox.close();
    await sql`INSERT INTO settings (name, value) VALUES ('api_key', ${
      new TextEncoder().encode(API_KEY)
    })`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Opens a copied data directory as the gateway would and checks all of it; or says why not. */
async function readBack(dataDir: string): Promise<string | null> {
  const store = new FileSessionStore({ dataDir, logger: silentLogger });
  const report = await store.open();
  try {
    const names = report.sessions.map((record) => `${record.id}=${record.name}`).sort();
    const expected = SESSIONS.map((session) => `${session}=name of ${session}`);
    if (names.join() !== expected.join()) return `the records read back as ${names.join()}`;
    for (const session of SESSIONS) {
      for (const name of FILES) {
        const data = await store.auth(singleOwnerFence(session as SessionId)).read(name);
        if (new TextDecoder().decode(data) !== content(session, name)) {
          return `${session}/${name} does not read back`;
        }
      }
    }
  } finally {
    await store.close();
  }
  const outbox = new FileWebhookOutbox({ dataDir, logger: silentLogger });
  await outbox.open();
  try {
    const pending = (await outbox.claim(60_000)).map((e) => [e.id, e.attempts]);
    if (JSON.stringify(pending) !== JSON.stringify(PENDING)) {
      return `the pending deliveries read back as ${JSON.stringify(pending)}`;
    }
    const letters = (await outbox.deadLetters()).map((l) => `${l.entry.id}:${l.attempts}`);
    if (letters.join() !== "dlv_9:10") return `the dead letters read back as ${letters.join()}`;
  } finally {
    await outbox.close();
  }
  const key = await Deno.readTextFile(join(dataDir, API_KEY_FILE_NAME)).catch(() => "");
  return key.trim() === API_KEY ? null : "the generated API key was not copied";
}

/** The copy as a crash right after the acknowledgement leaves it, opened in a scratch folder. */
async function treeReadsBack(tree: CrashTree): Promise<string | null> {
  const scratch = await Deno.makeTempDir({ prefix: "wa-gateway-crash-migrate-" });
  try {
    await materialize(tree, scratch);
    return await readBack(join(scratch, DATA));
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
}

/** The workload against a migrated database at `databaseUrl` (filled by `setup`). */
export function migrateStoreWorkload(databaseUrl: string): CrashWorkload {
  const { hostname, port } = new URL(databaseUrl);
  return {
    name: "migrate-store into a data directory",
    script: new URL(import.meta.url),
    setup: () => seed(databaseUrl),
    args: (root) => [root, databaseUrl],
    denoFlags: [`--allow-net=${hostname}:${port}`],
    minAcks: 1,
    crashPoints: 12,
    promised: (_ack, tree) => treeReadsBack(tree),
    async recover(root, acks) {
      // Before the command said it had copied, whatever part of the copy is there may stay.
      if (acks.length === 0) return null;
      return await readBack(join(root, DATA));
    },
  };
}

if (import.meta.main) {
  const [root, databaseUrl] = Deno.args;
  const code = await runMigrateStoreCli(["to-file"], {
    SESSIONS_DATA_PATH: join(root, DATA),
    DATABASE_URL: databaseUrl,
  });
  if (code !== 0) Deno.exit(code);
  acknowledge({ op: "migrated" });
}
