/**
 * `deno task migrate-store -- to-postgres` copies a stopped gateway's data directory
 * (`SESSIONS_DATA_PATH`) into the database at `DATABASE_URL`; `-- to-file` copies the database
 * back into a data directory that is empty or absent. Both verify the copy by reading it back
 * through a freshly opened store, and leave the source as it was. See docs/operations.md.
 */
import type { Sql } from "postgres";
import { join } from "node:path";
import { apiKeyProblem, ConfigError, loadConfig } from "./config.ts";
import {
  DatabaseUnavailableError,
  DataDirectoryLockedError,
  EncryptionKeyError,
} from "./domain/errors.ts";
import { singleOwnerFence } from "./domain/fence.ts";
import type { SessionId } from "./domain/session_id.ts";
import { createLogger, type Logger } from "./logger.ts";
import { openPersistence } from "./main.ts";
import { writeFileAtomic } from "./persistence/atomic_write.ts";
import { API_KEY_FILE_NAME } from "./persistence/data_dir_layout.ts";
import type { Persistence } from "./persistence/persistence.ts";
import { openDatabaseClient } from "./persistence/postgres/postgres_client.ts";
import { PostgresLeaseLock } from "./persistence/postgres/postgres_lease_lock.ts";
import { readRegularFile } from "./persistence/read_regular_file.ts";
import {
  type CopyReport,
  copyStore,
  CopyVerificationError,
  verifyCopy,
} from "./persistence/store_copy.ts";
import type { Config } from "./config.ts";

const USAGE = `Usage (the gateway stopped, on every node):
  deno task migrate-store -- to-postgres   copy SESSIONS_DATA_PATH into DATABASE_URL (which must hold no session)
  deno task migrate-store -- to-file       copy DATABASE_URL into SESSIONS_DATA_PATH (which must be empty or absent)
SESSIONS_ENCRYPTION_KEY (or _FILE), if set, must be the key of the source; the copy is stored under it too.`;

/** The node id the copy holds its leases under while it writes the database. */
const MIGRATION_NODE = "migrate-store";
const LEASE_TTL_MS = 3_600_000;

/** A precondition of the copy does not hold (a gateway running, a target not empty). */
class MigrationRefused extends Error {}

/** Runs one command; returns the exit code (0 copied and verified, 1 failed, 2 usage/config). */
export async function runMigrateStoreCli(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<number> {
  const [direction, ...rest] = args.filter((arg) => arg !== "--");
  if ((direction !== "to-postgres" && direction !== "to-file") || rest.length > 0) {
    console.error(USAGE);
    return 2;
  }
  const logger = createLogger({
    level: env.LOG_LEVEL === "debug" ? "debug" : "warn",
    format: "pretty",
  });
  try {
    const fileConfig = loadConfig({ ...env, STORE: "file", DATABASE_URL: undefined });
    const pgConfig = loadConfig({
      ...env,
      STORE: "postgres",
      NODE_ID: MIGRATION_NODE,
      // Never served: the copy runs with every gateway stopped.
      NODE_URL: "http://127.0.0.1:1",
    });
    const report = direction === "to-postgres"
      ? await toPostgres(fileConfig, pgConfig, logger)
      : await toFile(fileConfig, pgConfig, logger);
    console.log(
      `copied and verified ${report.sessions} session(s), ${report.authFiles} auth file(s), ` +
        `${report.messages} stored message(s), ${report.idempotencyRecords} idempotency ` +
        `record(s), ${report.pendingDeliveries} pending webhook deliveries and ` +
        `${report.deadLetters} dead letter(s): ${
          direction === "to-postgres"
            ? `${fileConfig.dataDir} → database`
            : `database → ${fileConfig.dataDir}`
        }`,
    );
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    if (
      error instanceof MigrationRefused || error instanceof DataDirectoryLockedError ||
      error instanceof EncryptionKeyError || error instanceof DatabaseUnavailableError ||
      error instanceof CopyVerificationError
    ) {
      console.error(`error: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

async function toPostgres(
  fileConfig: Config,
  pgConfig: Config,
  logger: Logger,
): Promise<CopyReport> {
  if (!(await hasEntries(fileConfig.dataDir))) {
    throw new MigrationRefused(`${fileConfig.dataDir} holds no data directory to copy`);
  }
  const source = await openPersistence(fileConfig, logger);
  const target = await openPersistence(pgConfig, logger);
  const sql = adminClient(pgConfig);
  try {
    await openSide(source); // takes the data directory's lock: the gateway must be stopped
    await openSide(target);
    const [existing] = await sql<{ count: string }[]>`SELECT count(*) AS count FROM sessions`;
    if (Number(existing.count) > 0) {
      throw new MigrationRefused(
        `the database already holds ${existing.count} session(s); copy only into an empty one`,
      );
    }
    const lock = new PostgresLeaseLock(sql, MIGRATION_NODE);
    const fences = new Map<SessionId, number>();
    const leaseFor = async (id: SessionId) => {
      const [lease] = await lock.acquire([id], LEASE_TTL_MS);
      if (!lease) throw new MigrationRefused(`session ${id} is held by a running node`);
      fences.set(id, lease.epoch);
      return lease;
    };
    const report = await copyStore(source, target, leaseFor, singleOwnerFence);
    const key = await fileApiKey(fileConfig.dataDir);
    if (key) {
      await sql`
        INSERT INTO settings (name, value) VALUES ('api_key', ${new TextEncoder().encode(key)})
        ON CONFLICT (name) DO UPDATE SET value = excluded.value`;
    }
    await closeSide(target);
    const reopened = await openPersistence(pgConfig, logger);
    try {
      await openSide(reopened);
      const fenceOf = (id: SessionId) => ({ sessionId: id, epoch: fences.get(id) ?? 0 });
      await verifyCopy(source, reopened, singleOwnerFence, fenceOf);
      const [stored] = await sql<{ value: Uint8Array }[]>`
        SELECT value FROM settings WHERE name = 'api_key'`;
      if (key && new TextDecoder().decode(stored?.value) !== key) {
        throw new CopyVerificationError(["the generated API key was not copied"]);
      }
    } finally {
      await closeSide(reopened);
    }
    await lock.release([...fences].map(([sessionId, epoch]) => ({ sessionId, epoch })));
    return report;
  } finally {
    await closeSide(source);
    await closeSide(target);
    await sql.end({ timeout: 5 });
  }
}

async function toFile(fileConfig: Config, pgConfig: Config, logger: Logger): Promise<CopyReport> {
  if (await hasEntries(fileConfig.dataDir)) {
    throw new MigrationRefused(
      `${fileConfig.dataDir} is not empty; copy only into an empty directory`,
    );
  }
  const sql = adminClient(pgConfig);
  const source = await openPersistence(pgConfig, logger);
  let target = await openPersistence(fileConfig, logger);
  try {
    await openSide(source);
    await assertNoNodeRunning(sql);
    // What the retention no longer allows would not be stored on the other side: drop it first.
    await source.messages.prune(new Date());
    // Queue claims of nodes that stopped or died hold nothing any more: the copy reads them all.
    await sql`DELETE FROM webhook_queue_claims`;
    await openSide(target);
    const report = await copyStore(
      source,
      target,
      (id) => Promise.resolve(singleOwnerFence(id)),
      singleOwnerFence,
    );
    const [stored] = await sql<
      { value: Uint8Array }[]
    >`SELECT value FROM settings WHERE name = 'api_key'`;
    if (stored) {
      await writeFileAtomic(join(fileConfig.dataDir, API_KEY_FILE_NAME), stored.value);
    }
    await closeSide(target);
    target = await openPersistence(fileConfig, logger);
    await openSide(target);
    await verifyCopy(source, target, singleOwnerFence, singleOwnerFence);
    if (
      stored &&
      (await fileApiKey(fileConfig.dataDir)) !== new TextDecoder().decode(stored.value).trim()
    ) {
      throw new CopyVerificationError(["the generated API key was not copied"]);
    }
    return report;
  } finally {
    await closeSide(target);
    await closeSide(source);
    await sql.end({ timeout: 5 });
  }
}

async function assertNoNodeRunning(sql: Sql): Promise<void> {
  const [nodes] = await sql<{ count: string }[]>`
    SELECT count(*) AS count FROM nodes
    WHERE heartbeat_at + ttl_ms * interval '1 millisecond' > now()`;
  const [leases] = await sql<{ count: string }[]>`
    SELECT count(*) AS count FROM leases WHERE holder IS NOT NULL AND expires_at > now()`;
  if (Number(nodes.count) > 0 || Number(leases.count) > 0) {
    throw new MigrationRefused(
      `${nodes.count} node(s) are running and ${leases.count} session lease(s) are held: stop ` +
        "every node first (a killed node's leases lapse after LEASE_TTL_MS)",
    );
  }
}

async function openSide(side: Persistence): Promise<void> {
  await side.store.open();
  await side.outbox.open();
  await side.messages.open();
}

async function closeSide(side: Persistence): Promise<void> {
  await side.messages.close().catch(() => {});
  await side.outbox.close().catch(() => {});
  await side.store.close().catch(() => {});
  await side.close().catch(() => {});
}

function adminClient(config: Config): Sql {
  if (config.store.kind !== "postgres") throw new Error("no database configured");
  return openDatabaseClient(config.store.databaseUrl, { max: 2 });
}

async function fileApiKey(dataDir: string): Promise<string | undefined> {
  const read = await readRegularFile(join(dataDir, API_KEY_FILE_NAME));
  if (read.kind !== "file") return undefined;
  const key = new TextDecoder().decode(read.data).trim();
  return apiKeyProblem(key) === null ? key : undefined;
}

async function hasEntries(dir: string): Promise<boolean> {
  try {
    for await (const _ of Deno.readDir(dir)) return true;
    return false;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

if (import.meta.main) {
  Deno.exit(await runMigrateStoreCli(Deno.args, Deno.env.toObject()));
}
