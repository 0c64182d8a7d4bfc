/**
 * Makes the message store's rows fit the encryption key as the store opens, as the file store
 * does with its logs: with a key, plaintext rows (stored before the key was set) are sealed and
 * their chat blinded; without one, sealed rows stop the start with `EncryptionKeyError`. Rows
 * that do not validate are reported and left as they are.
 */
import type { Sql } from "postgres";
import type { Logger } from "../../../logger.ts";
import { sealedValueNeedsKey, type ValueSealer } from "../../sealed_value.ts";
import { idempotencyBody, messageColumns, RowDecoder } from "./message_rows.ts";

/** Rows sealed per transaction. */
const BATCH = 500;

interface PlainRow {
  session_id: string;
  id: string;
  body: unknown;
}

/**
 * Seals plaintext rows with `sealer`, or checks that there are no sealed ones without it;
 * returns what was found invalid (and left in place).
 *
 * @example
 * ```ts
 * const repairs = await prepareMessagesAtRest(sql, sealer, logger);
 * ```
 */
export async function prepareMessagesAtRest(
  sql: Sql,
  sealer: ValueSealer | undefined,
  logger: Logger,
): Promise<string[]> {
  if (!sealer) {
    const sealed = await sql`
      SELECT 1 FROM messages WHERE jsonb_typeof(body) = 'string'
      UNION ALL SELECT 1 FROM idempotency_records WHERE jsonb_typeof(body) = 'string'
      LIMIT 1`;
    if (sealed.length > 0) throw sealedValueNeedsKey("The message store in the database");
    return [];
  }
  const repairs: string[] = [];
  const plain = new RowDecoderCache(undefined);
  let sealedRows = 0;
  for (let after = { session_id: "", id: "" };;) {
    const rows = await sql<PlainRow[]>`
      SELECT session_id, id, body FROM messages
      WHERE jsonb_typeof(body) = 'object' AND (session_id, id) > (${after.session_id}, ${after.id})
      ORDER BY session_id, id LIMIT ${BATCH}`;
    if (rows.length === 0) break;
    after = rows[rows.length - 1];
    const sealedColumns = [];
    for (const row of rows) {
      const checked = plain.of(row.session_id).message(row);
      if ("reason" in checked) {
        repairs.push(`message ${row.session_id}/${row.id}: ${checked.reason}; left as it is`);
        continue;
      }
      sealedColumns.push({
        session_id: row.session_id,
        ...messageColumns(row.session_id, checked.message, sealer),
      });
    }
    if (sealedColumns.length === 0) continue;
    await sql`
      UPDATE messages m SET chat = u.chat, body = u.body::jsonb
      FROM unnest(${sealedColumns.map((c) => c.session_id)}::text[],
        ${sealedColumns.map((c) => c.id)}::text[], ${sealedColumns.map((c) => c.chat)}::text[],
        ${sealedColumns.map((c) => c.body)}::text[]) AS u(session_id, id, chat, body)
      WHERE m.session_id = u.session_id AND m.id = u.id AND jsonb_typeof(m.body) = 'object'`;
    sealedRows += sealedColumns.length;
  }
  const records = await sql<PlainRow[]>`
    SELECT session_id, key AS id, body FROM idempotency_records
    WHERE jsonb_typeof(body) = 'object'`;
  for (const row of records) {
    const checked = plain.of(row.session_id).idempotency(row);
    if ("reason" in checked) {
      repairs.push(
        `idempotency record ${row.session_id}/${row.id}: ${checked.reason}; left as it is`,
      );
      continue;
    }
    await sql`
      UPDATE idempotency_records
      SET body = ${idempotencyBody(row.session_id, checked.record, sealer)}::text::jsonb
      WHERE session_id = ${row.session_id} AND key = ${row.id} AND jsonb_typeof(body) = 'object'`;
    sealedRows++;
  }
  if (sealedRows > 0) logger.info({ rows: sealedRows }, "sealed plaintext message store rows");
  for (const repair of repairs) logger.error(repair);
  return repairs;
}

/** One decoder per session. */
class RowDecoderCache {
  readonly #decoders = new Map<string, RowDecoder>();

  constructor(readonly sealer: ValueSealer | undefined) {}

  of(sessionId: string): RowDecoder {
    let decoder = this.#decoders.get(sessionId);
    if (!decoder) {
      decoder = new RowDecoder(sessionId, this.sealer);
      this.#decoders.set(sessionId, decoder);
    }
    return decoder;
  }
}
