/**
 * The message store's retention on PostgreSQL: the per-session size cap (the earliest stored go
 * first, by `seq`) and the age limit. Both work under the session's `message_sessions` row lock,
 * the same lock every write of the session takes, so the byte count stays exact.
 */
import type { Sql, TransactionSql } from "postgres";
import { transaction } from "../transaction.ts";
import type { MessageRetention } from "../../../domain/message_store.ts";
import type { SessionId } from "../../../domain/session_id.ts";

/** Messages looked at per step when the cap drops the earliest stored. */
const CAP_BATCH = 100;

/**
 * Locks a session's byte count (creating it at 0) until the transaction ends; returns it.
 *
 * @example
 * ```ts
 * const bytes = await lockSessionBytes(tx, "shop-1");
 * ```
 */
export async function lockSessionBytes(tx: TransactionSql, sessionId: SessionId): Promise<number> {
  const [counter] = await tx<{ bytes: string }[]>`
    INSERT INTO message_sessions (session_id, bytes) VALUES (${sessionId}, 0)
    ON CONFLICT (session_id) DO UPDATE SET bytes = message_sessions.bytes
    RETURNING bytes`;
  return Number(counter.bytes);
}

/**
 * Drops a session's earliest stored messages while `bytes` (its stored size) is over `cap`;
 * returns the size left and how many messages went. The caller holds the byte count's lock.
 *
 * @example
 * ```ts
 * const { bytes } = await enforceSizeCap(tx, "shop-1", before + added, retention.maxBytesPerSession);
 * ```
 */
export async function enforceSizeCap(
  tx: TransactionSql,
  sessionId: SessionId,
  bytes: number,
  cap: number,
): Promise<{ bytes: number; removed: number }> {
  let removed = 0;
  while (bytes > cap) {
    const oldest = await tx<{ id: string; size: number }[]>`
      SELECT id, size FROM messages WHERE session_id = ${sessionId} ORDER BY seq LIMIT ${CAP_BATCH}`;
    if (oldest.length === 0) return { bytes: 0, removed };
    const gone: string[] = [];
    for (const row of oldest) {
      if (bytes <= cap) break;
      gone.push(row.id);
      bytes -= row.size;
    }
    await tx`DELETE FROM messages WHERE session_id = ${sessionId} AND id = ANY(${gone}::text[])`;
    removed += gone.length;
  }
  return { bytes, removed };
}

/** What {@linkcode pruneMessages} works with. */
export interface PruneOptions {
  sql: Sql;
  retention: MessageRetention;
  now: Date;
  /** Runs a transaction again while the database is unavailable for a moment. */
  retry: <T>(what: string, attempt: (attempt: number) => Promise<T>) => Promise<T>;
}

/**
 * Drops, in every session, messages older than the retention and what is over the size cap (one
 * transaction per session that has any), then expired idempotency records; returns how many
 * messages went.
 *
 * @example
 * ```ts
 * const removed = await pruneMessages({ sql, retention, now: new Date(), retry });
 * ```
 */
export async function pruneMessages(options: PruneOptions): Promise<number> {
  const { sql, retention, now, retry } = options;
  const oldest = now.getTime() - retention.maxAgeMs;
  const cap = retention.maxBytesPerSession;
  const sessions = await retry("message retention", () =>
    sql<{ session_id: SessionId }[]>`
      SELECT DISTINCT session_id FROM messages WHERE ts < ${oldest}
      UNION SELECT session_id FROM message_sessions WHERE bytes > ${cap}`);
  let removed = 0;
  for (const { session_id: sessionId } of sessions) {
    removed += await retry("message retention", () =>
      transaction(sql, async (tx) => {
        const before = await lockSessionBytes(tx, sessionId);
        const aged = await tx<{ size: number }[]>`
          DELETE FROM messages WHERE session_id = ${sessionId} AND ts < ${oldest} RETURNING size`;
        const left = before - aged.reduce((sum, row) => sum + row.size, 0);
        const capped = await enforceSizeCap(tx, sessionId, left, cap);
        await tx`
          UPDATE message_sessions SET bytes = ${capped.bytes} WHERE session_id = ${sessionId}`;
        return aged.length + capped.removed;
      }));
  }
  await retry(
    "idempotency expiry",
    () => sql`DELETE FROM idempotency_records WHERE expires_at <= ${now.getTime()}`,
  );
  return removed;
}
