import type { Sql } from "postgres";
import { DatabaseUnavailableError } from "../../domain/errors.ts";
import type { Logger } from "../../logger.ts";
import { messageRetention, type Persistence, type PersistenceOptions } from "../persistence.ts";
import { databaseApiKey } from "./postgres_api_key.ts";
import { CONNECT_TIMEOUT_S, openDatabaseClient } from "./postgres_client.ts";
import { PostgresClusterSignals } from "./postgres_cluster_signals.ts";
import { PostgresEventRelay } from "./postgres_event_relay.ts";
import { PostgresLeaseLock } from "./postgres_lease_lock.ts";
import { PostgresMessageStore } from "./message_store/postgres_message_store.ts";
import { PostgresNodeRegistry } from "./postgres_node_registry.ts";
import { PostgresSessionStore } from "./postgres_session_store.ts";
import { PostgresWebhookOutbox } from "./postgres_webhook_outbox.ts";

/**
 * Every connection's settings. A node frozen (SIGSTOP, a long pause) in the middle of a
 * transaction keeps its row locks until the server ends its session: `idle_in_transaction…` ends
 * it after a few seconds, well under a lease, so another node's takeover is not held up by it;
 * `lock_timeout` makes a statement that waits for a row lock fail (and be tried again) rather
 * than stall an ownership pass, and with it the renewals of every lease this node holds. Our
 * transactions take milliseconds.
 */
const SESSION_SETTINGS = {
  idle_in_transaction_session_timeout: 4_000,
  lock_timeout: 2_000,
};

/**
 * Everything in one PostgreSQL database (`DATABASE_URL`), shared by every node. Connects first,
 * so that an unreachable database, refused credentials or a missing database stop the startup
 * with `DatabaseUnavailableError` before anything else happens.
 *
 * @example
 * ```ts
 * const persistence = await postgresPersistence({ config, logger, codec, sealer }, databaseUrl);
 * ```
 */
export async function postgresPersistence(
  options: PersistenceOptions,
  databaseUrl: string,
): Promise<Persistence> {
  const { config, logger, codec, sealer } = options;
  const where = describeDatabase(databaseUrl);
  const sql = openDatabaseClient(databaseUrl, {
    max: 10,
    logger,
    // Connections are recycled; nothing relies on session state (see scale-out notes).
    maxLifetimeS: 30 * 60,
    connection: SESSION_SETTINGS,
  });
  await checkConnection(sql, where, logger);
  const nodeId = config.cluster.nodeId;
  return {
    kind: "postgres",
    location: where.text,
    localDir: config.dataDir,
    store: new PostgresSessionStore({
      sql,
      nodeId,
      logger: logger.child({ component: "store" }),
      codec,
      sealer,
    }),
    messages: new PostgresMessageStore({
      sql,
      nodeId,
      logger: logger.child({ component: "message-store" }),
      retention: messageRetention(config),
      sealer,
    }),
    outbox: new PostgresWebhookOutbox({
      sql,
      nodeId,
      logger: logger.child({ component: "webhook-outbox" }),
      sealer,
    }),
    leases: new PostgresLeaseLock(sql, nodeId),
    signals: new PostgresClusterSignals({
      sql,
      databaseUrl,
      logger: logger.child({ component: "cluster-signals" }),
    }),
    relay: new PostgresEventRelay({
      sql,
      databaseUrl,
      node: nodeId,
      logger: logger.child({ component: "event-relay" }),
    }),
    nodes: new PostgresNodeRegistry(sql),
    generatedApiKey: () => databaseApiKey(sql, logger),
    close: () => sql.end({ timeout: 5 }),
  };
}

interface DatabaseLocation {
  host: string;
  port: string;
  database: string;
  user: string;
  /** `user@host:port/database`: what errors and logs show (never the password). */
  text: string;
}

/**
 * The parts of a database URL that may be shown: no password, no query parameters.
 *
 * @example
 * ```ts
 * describeDatabase("postgres://app:pw@db:5432/wa").text; // "app@db:5432/wa"
 * ```
 */
export function describeDatabase(databaseUrl: string): DatabaseLocation {
  const url = new URL(databaseUrl);
  const host = url.hostname;
  const port = url.port || "5432";
  const user = decodeURIComponent(url.username) || "(default user)";
  const database = decodeURIComponent(url.pathname.replace(/^\//, "")) || user;
  return { host, port, database, user, text: `${user}@${host}:${port}/${database}` };
}

async function checkConnection(sql: Sql, where: DatabaseLocation, logger: Logger): Promise<void> {
  try {
    await sql`SELECT 1`;
    logger.info({ database: where.text }, "connected to the database");
  } catch (error) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw new DatabaseUnavailableError(
      `Cannot use the database ${where.text} (DATABASE_URL): ${reason(error, where)}`,
    );
  }
}

/** What went wrong, in words; built from codes only, so that no part of the URL leaks. */
function reason(error: unknown, where: DatabaseLocation): string {
  const code = String((error as { code?: unknown })?.code ?? "");
  switch (code) {
    case "ECONNREFUSED":
      return `nothing accepts connections at ${where.host}:${where.port} (connection refused)`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `the host name ${where.host} does not resolve`;
    case "CONNECT_TIMEOUT":
    case "ETIMEDOUT":
      return `no answer from ${where.host}:${where.port} within ${CONNECT_TIMEOUT_S} s`;
    case "28P01":
    case "28000":
      return `the server refused the credentials of user ${where.user} (wrong password or user)`;
    case "3D000":
      return `the database ${where.database} does not exist`;
    case "42501":
      return `user ${where.user} may not connect to ${where.database}`;
    default:
      return `connection failed (${code || "unknown error"})`;
  }
}
