/**
 * The chat list and a chat's history as queries on `messages`: ordered by `(ts, seq)` (the
 * timestamp, then store order, as the file store orders them), paged by keyset cursors (base64url
 * JSON of the position past the page), so a page costs an index range scan however deep it is.
 */
import type { Sql } from "postgres";
import { z } from "zod";
import { decodePageCursor, encodePageCursor } from "../../message_store/page_cursor.ts";
import { ValidationError } from "../../../domain/errors.ts";
import type {
  ChatSummary,
  HistoryRequest,
  Page,
  PageRequest,
  StoredMessage,
} from "../../../domain/message_store.ts";
import type { SessionId } from "../../../domain/session_id.ts";
import type { Logger } from "../../../logger.ts";
import type { ValueSealer } from "../../sealed_value.ts";
import { type BodyRow, chatColumn, type RowDecoder } from "./message_rows.ts";

const CursorSchema = z.object({
  dir: z.enum(["older", "newer"]),
  t: z.number(),
  seq: z.number(),
  /** The chat the cursor belongs to (`""` for the chat list). */
  chat: z.string(),
});
type Cursor = z.infer<typeof CursorSchema>;

const encodeCursor = (cursor: Cursor) => encodePageCursor(cursor);
const decodeCursor = (value: string, chat: string) => decodePageCursor(value, CursorSchema, chat);

interface PlacedRow extends BodyRow {
  ts: string;
  seq: string;
}

/** What the page queries read with. */
export interface PageQueryContext {
  sql: Sql;
  sealer?: ValueSealer;
  logger: Logger;
  decoder: (sessionId: SessionId) => RowDecoder;
}

/**
 * One page of a chat's messages, newest first; `before`/`after` name a message to start past
 * (an unknown one, or one of another chat, is a `ValidationError`).
 */
export async function historyQuery(
  context: PageQueryContext,
  sessionId: SessionId,
  chat: string,
  request: HistoryRequest,
): Promise<Page<StoredMessage>> {
  const { sql } = context;
  const column = chatColumn(sessionId, chat, context.sealer);
  let from: Cursor | null = null;
  if (request.cursor) from = decodeCursor(request.cursor, chat);
  else if (request.before || request.after) {
    const anchorId = (request.before ?? request.after)!;
    const [anchor] = await sql<{ ts: string; seq: string }[]>`
      SELECT ts, seq FROM messages
      WHERE session_id = ${sessionId} AND id = ${anchorId} AND chat = ${column}`;
    if (!anchor) {
      const field = request.before ? "before" : "after";
      throw new ValidationError(`${field}: no message ${anchorId} in this chat`);
    }
    const dir = request.before ? "older" : "newer";
    from = { dir, t: Number(anchor.ts), seq: Number(anchor.seq), chat };
  }
  const dir = from?.dir ?? "older";
  const take = request.limit + 1;
  let rows: PlacedRow[];
  if (dir === "older") {
    rows = await sql<PlacedRow[]>`
      SELECT id, ts, seq, body FROM messages
      WHERE session_id = ${sessionId} AND chat = ${column}
        ${from ? sql`AND (ts, seq) < (${from.t}, ${from.seq})` : sql``}
      ORDER BY ts DESC, seq DESC LIMIT ${take}`;
  } else {
    // Towards newer: the ones right after the anchor, still shown newest first.
    rows = await sql<PlacedRow[]>`
      SELECT id, ts, seq, body FROM messages
      WHERE session_id = ${sessionId} AND chat = ${column} AND (ts, seq) > (${from!.t}, ${
      from!
        .seq
    })
      ORDER BY ts, seq LIMIT ${take}`;
  }
  const more = rows.length > request.limit;
  rows = rows.slice(0, request.limit);
  if (dir === "newer") rows.reverse();
  const edge = dir === "older" ? rows.at(-1) : rows[0];
  return {
    items: decodeAll(context, sessionId, rows),
    nextCursor: more && edge
      ? encodeCursor({ dir, t: Number(edge.ts), seq: Number(edge.seq), chat })
      : null,
  };
}

/** One page of a session's chats, the most recently active first. */
export async function chatsQuery(
  context: PageQueryContext,
  sessionId: SessionId,
  request: PageRequest,
): Promise<Page<ChatSummary>> {
  const { sql } = context;
  const from = request.cursor ? decodeCursor(request.cursor, "") : null;
  const rows = await sql<(PlacedRow & { unread: string })[]>`
    WITH last AS (
      SELECT DISTINCT ON (chat) chat, ts, seq, id FROM messages
      WHERE session_id = ${sessionId}
      ORDER BY chat, ts DESC, seq DESC
    ), unread AS (
      SELECT chat, count(*) AS unread FROM messages
      WHERE session_id = ${sessionId} AND to_read AND NOT deleted
      GROUP BY chat
    )
    SELECT last.id, last.ts, last.seq, m.body, coalesce(unread.unread, 0) AS unread
    FROM last
    JOIN messages m ON m.session_id = ${sessionId} AND m.id = last.id
    LEFT JOIN unread ON unread.chat = last.chat
    ${from ? sql`WHERE (last.ts, last.seq) < (${from.t}, ${from.seq})` : sql``}
    ORDER BY last.ts DESC, last.seq DESC
    LIMIT ${request.limit + 1}`;
  const more = rows.length > request.limit;
  const page = rows.slice(0, request.limit);
  const decoder = context.decoder(sessionId);
  const items: ChatSummary[] = [];
  for (const row of page) {
    const checked = decoder.message(row);
    if ("reason" in checked) {
      reportInvalid(context, decoder, row, checked.reason);
      continue;
    }
    const lastMessage = checked.message;
    items.push({ jid: lastMessage.chat, lastMessage, unreadCount: Number(row.unread) });
  }
  const last = page.at(-1);
  return {
    items,
    nextCursor: more && last
      ? encodeCursor({ dir: "older", t: Number(last.ts), seq: Number(last.seq), chat: "" })
      : null,
  };
}

function decodeAll(
  context: PageQueryContext,
  sessionId: SessionId,
  rows: readonly BodyRow[],
): StoredMessage[] {
  const decoder = context.decoder(sessionId);
  const messages: StoredMessage[] = [];
  for (const row of rows) {
    const checked = decoder.message(row);
    if ("message" in checked) messages.push(checked.message);
    else reportInvalid(context, decoder, row, checked.reason);
  }
  return messages;
}

/** An invalid row met by a listing: left out of the page, logged, left in the table. */
function reportInvalid(
  context: PageQueryContext,
  decoder: RowDecoder,
  row: BodyRow,
  reason: string,
): void {
  context.logger.error(
    { sessionId: decoder.sessionId, messageId: row.id, reason },
    "invalid message row in the database: left out, left as it is",
  );
}
