/**
 * The rows of the PostgreSQL message store and their encoding. A row's `body` is exactly the body
 * of the file store's log line for the same record (`message_log_record.ts`): JSON, or with an
 * encryption key that JSON sealed and bound to the session, the operation and the id, so a body
 * copied to another row fails to open and key rotation moves it like a log line. The columns
 * beside it are what the queries need; with a key the chat is blinded (`ValueSealer.blind`).
 */
import { PersistenceError } from "../../../domain/errors.ts";
import type { IdempotencyRecord, StoredMessage } from "../../../domain/message_store.ts";
import {
  encodeRecord,
  type MessageLogRecord,
  type Opener,
  recordSchema,
} from "../../message_store/message_log_record.ts";
import { storedSize } from "../../message_store/session_message_log.ts";
import { sealedValueNeedsKey, type ValueSealer } from "../../sealed_value.ts";

/** Where sealed rows are, for the error that says a key is needed. */
const WHERE = "The message store in the database";

/** The columns of a `messages` row, as written. */
export interface MessageColumns {
  id: string;
  chat: string;
  ts: number;
  to_read: boolean;
  deleted: boolean;
  size: number;
  /** The body as JSON text, for a `jsonb` parameter. */
  body: string;
}

/** A `messages` or `idempotency_records` row's body as the client returns it, with its id. */
export interface BodyRow {
  id: string;
  body: unknown;
}

/**
 * The `chat` column of a session's chat: the JID, or its blinded form with a key.
 *
 * @example
 * ```ts
 * await sql`SELECT … WHERE chat = ${chatColumn(sessionId, jid, sealer)}`;
 * ```
 */
export function chatColumn(sessionId: string, chat: string, sealer?: ValueSealer): string {
  return sealer ? sealer.blind(chat, `message-store:${sessionId}:chat`) : chat;
}

/**
 * A message's row (without its session), the body sealed with a sealer.
 *
 * @example
 * ```ts
 * const row = messageColumns("shop-1", message, sealer);
 * ```
 */
export function messageColumns(
  sessionId: string,
  message: StoredMessage,
  sealer?: ValueSealer,
): MessageColumns {
  const line = encodeRecord(sessionId, { op: "put", id: message.id, message }, sealer) as {
    body: unknown;
  };
  return {
    id: message.id,
    chat: chatColumn(sessionId, message.chat, sealer),
    ts: message.timestamp,
    to_read: !message.fromMe && !message.read,
    deleted: message.deletedAt !== null,
    size: storedSize(message),
    body: JSON.stringify(line.body),
  };
}

/** An idempotency record's body as JSON text (sealed with a sealer). */
export function idempotencyBody(
  sessionId: string,
  record: IdempotencyRecord,
  sealer?: ValueSealer,
): string {
  const line = encodeRecord(sessionId, { op: "idem", id: record.key, record }, sealer) as {
    body: unknown;
  };
  return JSON.stringify(line.body);
}

/** Decodes and validates the rows of one session; sealed bodies need the sealer. */
export class RowDecoder {
  readonly #schema: ReturnType<typeof recordSchema>;
  readonly sessionId: string;

  constructor(sessionId: string, sealer: ValueSealer | undefined) {
    this.sessionId = sessionId;
    const open: Opener = (sealed, context) => {
      if (!sealer) throw sealedValueNeedsKey(WHERE);
      try {
        return sealer.open(sealed, context);
      } catch {
        return null;
      }
    };
    this.#schema = recordSchema(sessionId, open);
  }

  /** The message of a row, or why the row is invalid. */
  message(row: BodyRow): { message: StoredMessage } | { reason: string } {
    const record = this.#decode("put", row);
    if ("reason" in record) return record;
    return record.op === "put" ? { message: record.message } : { reason: "not a message" };
  }

  /** The idempotency record of a row, or why the row is invalid. */
  idempotency(row: BodyRow): { record: IdempotencyRecord } | { reason: string } {
    const record = this.#decode("idem", row);
    if ("reason" in record) return record;
    return record.op === "idem" ? { record: record.record } : { reason: "not a record" };
  }

  /** The message of a row; `PersistenceError` naming the row when it is invalid. */
  requireMessage(row: BodyRow): StoredMessage {
    const checked = this.message(row);
    if ("reason" in checked) throw this.invalid("message", row.id, checked.reason);
    return checked.message;
  }

  /** The idempotency record of a row; `PersistenceError` naming the row when it is invalid. */
  requireIdempotency(row: BodyRow): IdempotencyRecord {
    const checked = this.idempotency(row);
    if ("reason" in checked) throw this.invalid("idempotency record", row.id, checked.reason);
    return checked.record;
  }

  /** The error that reports an invalid row (left in the table as it is). */
  invalid(what: string, id: string, reason: string): PersistenceError {
    return new PersistenceError(
      `The stored ${what} '${id}' of session '${this.sessionId}' is invalid: ${reason}`,
    );
  }

  #decode(op: "put" | "idem", row: BodyRow): MessageLogRecord | { reason: string } {
    const parsed = this.#schema.safeParse({ op, id: row.id, body: row.body });
    if (!parsed.success) {
      return { reason: parsed.error.issues.map((issue) => issue.message).join("; ") };
    }
    return parsed.data;
  }
}
