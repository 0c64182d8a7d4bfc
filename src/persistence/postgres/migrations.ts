import type { Sql } from "postgres";
import type { Logger } from "../../logger.ts";
import { transaction } from "./transaction.ts";

/** One schema change, applied once, in version order. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The schema, as the changes that made it. Never edit a migration that was released: add one.
 *
 * - `sessions`: one row per session, the spec (operators, any node, `spec_version` for
 *   compare-and-swap) and the report (the owner only). Timestamps of the record are its ISO
 *   strings, validated like the file store's.
 * - `leases`: one per session ever leased, with its fencing epoch; kept when the session is
 *   removed, so that a re-created id never reuses an epoch.
 * - `nodes`: the node registry.
 * - `auth_files`: each session's auth files, through the same codec as on disk.
 * - `settings`: the encryption key check and the generated API key.
 * - `webhook_outbox`, `webhook_queue_claims`, `webhook_dead_letters`: deliveries not yet made
 *   (as the file outbox stores them, sealed fields and all), which node delivers each
 *   (endpoint, session) queue, and the deliveries that failed for good.
 * - `cluster_events`: the last minutes of every node's events, so that each node's live stream
 *   shows all sessions (rows are read by `(origin, seq)` once NOTIFY says there are new ones).
 * - `messages`, `message_sessions`, `idempotency_records`: the message store
 *   (`message_store/postgres_message_store.ts`): each message's body as the file store's log
 *   line has it (sealed with a key), beside the columns its queries need; each session's stored
 *   bytes (the size cap, and the row every write of that session locks first); the
 *   `Idempotency-Key` records.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "sessions, leases, nodes, auth files, settings",
    sql: `
      CREATE TABLE sessions (
        id text PRIMARY KEY,
        created_at text NOT NULL,
        updated_at text,
        name text,
        webhooks jsonb,
        desired_state text NOT NULL,
        spec_version bigint NOT NULL DEFAULT 1,
        status text NOT NULL,
        phone_number text,
        push_name text,
        connected_at text,
        last_disconnected_at text,
        last_disconnect jsonb
      );
      CREATE TABLE leases (
        session_id text PRIMARY KEY,
        holder text,
        epoch bigint NOT NULL,
        expires_at timestamptz NOT NULL
      );
      CREATE TABLE nodes (
        id text PRIMARY KEY,
        url text NOT NULL,
        started_at timestamptz NOT NULL,
        heartbeat_at timestamptz NOT NULL,
        ttl_ms integer NOT NULL,
        draining boolean NOT NULL
      );
      CREATE TABLE auth_files (
        session_id text NOT NULL,
        name text NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (session_id, name)
      );
      CREATE TABLE settings (
        name text PRIMARY KEY,
        value bytea NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: "webhook outbox, queue claims, dead letters",
    sql: `
      CREATE TABLE webhook_outbox (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id text NOT NULL UNIQUE,
        queue_key text NOT NULL,
        entry jsonb NOT NULL
      );
      CREATE INDEX webhook_outbox_queue ON webhook_outbox (queue_key, seq);
      CREATE TABLE webhook_queue_claims (
        queue_key text PRIMARY KEY,
        holder text NOT NULL,
        expires_at timestamptz NOT NULL
      );
      CREATE TABLE webhook_dead_letters (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id text NOT NULL UNIQUE,
        letter jsonb NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: "cluster events",
    sql: `
      CREATE TABLE cluster_events (
        origin text NOT NULL,
        seq bigint NOT NULL,
        node text NOT NULL,
        body text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (origin, seq)
      );
      CREATE INDEX cluster_events_created ON cluster_events (created_at);
    `,
  },
  {
    version: 4,
    name: "message store",
    sql: `
      CREATE SEQUENCE message_store_seq;
      CREATE TABLE message_sessions (
        session_id text PRIMARY KEY,
        bytes bigint NOT NULL
      );
      CREATE TABLE messages (
        session_id text NOT NULL,
        id text NOT NULL,
        -- Store order: the size cap drops the lowest first; a put again moves a message last.
        seq bigint NOT NULL DEFAULT nextval('message_store_seq'),
        -- The chat's JID, or with a key its blinded form (sealed_value.ts).
        chat text NOT NULL,
        ts bigint NOT NULL,
        -- Received and not yet read (markRead's rows); counted unread unless deleted.
        to_read boolean NOT NULL,
        deleted boolean NOT NULL,
        size integer NOT NULL,
        body jsonb NOT NULL,
        PRIMARY KEY (session_id, id)
      );
      CREATE INDEX messages_history ON messages (session_id, chat, ts, seq) INCLUDE (id);
      CREATE INDEX messages_store_order ON messages (session_id, seq);
      CREATE INDEX messages_age ON messages (ts);
      CREATE INDEX messages_to_read ON messages (session_id, chat) WHERE to_read;
      -- Sealed (a string) or not (an object): finds what a key change must seal, at once.
      CREATE INDEX messages_at_rest ON messages (jsonb_typeof(body));
      CREATE TABLE idempotency_records (
        session_id text NOT NULL,
        key text NOT NULL,
        expires_at bigint NOT NULL,
        body jsonb NOT NULL,
        PRIMARY KEY (session_id, key)
      );
      CREATE INDEX idempotency_records_expiry ON idempotency_records (expires_at);
    `,
  },
];

/** The advisory lock key migrations run under (any constant; "wa-gateway" in ASCII). */
const MIGRATION_LOCK_KEY = 0x77612d67617465;

/**
 * Applies the migrations not yet recorded in `schema_migrations`, in one transaction under a
 * transaction-level advisory lock: nodes starting together wait for each other, and each applies
 * nothing that another already did. Returns the versions applied now.
 *
 * @example
 * ```ts
 * await migrate(sql, logger);
 * ```
 */
export async function migrate(
  sql: Sql,
  logger: Logger,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  return await transaction(sql, async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
    await tx`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`;
    const rows = await tx<{ version: number }[]>`SELECT version FROM schema_migrations`;
    const done = new Set(rows.map((row) => Number(row.version)));
    const newest = Math.max(0, ...done);
    const known = Math.max(0, ...migrations.map((migration) => migration.version));
    if (newest > known) {
      throw new Error(
        `The database schema is at version ${newest}, newer than this gateway knows (${known}): ` +
          "upgrade the gateway",
      );
    }
    const applied: number[] = [];
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(migration.version)) continue;
      await tx.unsafe(migration.sql);
      await tx`
        INSERT INTO schema_migrations (version, name)
        VALUES (${migration.version}, ${migration.name})`;
      applied.push(migration.version);
    }
    if (applied.length > 0) logger.info({ versions: applied }, "applied database migrations");
    return applied;
  });
}
