/**
 * The statements that write `messages` rows, each one round trip: an upsert of new messages
 * (moving a replaced one last in store order) and an update of changed ones in place.
 */
import type { TransactionSql } from "postgres";
import type { SessionId } from "../../../domain/session_id.ts";
import type { MessageColumns } from "./message_rows.ts";

/**
 * Inserts or replaces a session's messages, in the order given; returns the bytes added (their
 * sizes less those of the rows they replaced).
 *
 * @example
 * ```ts
 * const added = await upsertMessages(tx, "shop-1", [messageColumns("shop-1", message)]);
 * ```
 */
export async function upsertMessages(
  tx: TransactionSql,
  sessionId: SessionId,
  rows: readonly MessageColumns[],
): Promise<number> {
  const ids = rows.map((row) => row.id);
  // One statement: `replaced` reads the rows as they were before the upsert.
  const [before] = await tx<{ bytes: string }[]>`
    WITH replaced AS (
      SELECT coalesce(sum(size), 0) AS bytes FROM messages
      WHERE session_id = ${sessionId} AND id = ANY(${ids}::text[])
    ), upsert AS (
      INSERT INTO messages AS m (session_id, id, chat, ts, to_read, deleted, size, body)
      SELECT ${sessionId}, u.id, u.chat, u.ts, u.to_read::boolean, u.deleted::boolean, u.size,
        u.body::jsonb
      FROM unnest(
        ${ids}::text[], ${rows.map((r) => r.chat)}::text[], ${rows.map((r) => r.ts)}::bigint[],
        ${rows.map((r) => String(r.to_read))}::text[],
        ${rows.map((r) => String(r.deleted))}::text[], ${rows.map((r) => r.size)}::integer[],
        ${rows.map((r) => r.body)}::text[]
      ) WITH ORDINALITY AS u(id, chat, ts, to_read, deleted, size, body, ord)
      ORDER BY u.ord
      ON CONFLICT (session_id, id) DO UPDATE SET
        seq = excluded.seq, chat = excluded.chat, ts = excluded.ts, to_read = excluded.to_read,
        deleted = excluded.deleted, size = excluded.size, body = excluded.body
      RETURNING 1
    ) SELECT bytes FROM replaced`;
  return rows.reduce((sum, row) => sum + row.size, 0) - Number(before.bytes);
}

/**
 * Writes changed messages back in place (their store order kept); returns the bytes added, given
 * the sizes the rows had.
 *
 * @example
 * ```ts
 * const added = await updateMessages(tx, "shop-1", rows, new Map([[id, { size: 120 }]]));
 * ```
 */
export async function updateMessages(
  tx: TransactionSql,
  sessionId: SessionId,
  rows: readonly MessageColumns[],
  sizes: ReadonlyMap<string, { size: number }>,
): Promise<number> {
  if (rows.length === 0) return 0;
  await tx`
    UPDATE messages m
    SET to_read = u.to_read::boolean, deleted = u.deleted::boolean, size = u.size,
      body = u.body::jsonb
    FROM unnest(
      ${rows.map((r) => r.id)}::text[], ${rows.map((r) => String(r.to_read))}::text[],
      ${rows.map((r) => String(r.deleted))}::text[], ${rows.map((r) => r.size)}::integer[],
      ${rows.map((r) => r.body)}::text[]
    ) AS u(id, to_read, deleted, size, body)
    WHERE m.session_id = ${sessionId} AND m.id = u.id`;
  return rows.reduce((sum, row) => sum + row.size - (sizes.get(row.id)?.size ?? 0), 0);
}
