/**
 * Cursor pagination over a session's messages held in memory: chats by their last activity,
 * a chat's history newest first. Cursors are base64url JSON of the position after the page.
 */
import { z } from "zod";
import { decodePageCursor, encodePageCursor } from "./page_cursor.ts";
import { ValidationError } from "../../domain/errors.ts";
import type {
  ChatSummary,
  HistoryRequest,
  Page,
  PageRequest,
  StoredMessage,
} from "../../domain/message_store.ts";

const CursorSchema = z.object({
  /** `older` continues towards older items, `newer` towards newer ones. */
  dir: z.enum(["older", "newer"]),
  t: z.number(),
  id: z.string(),
  /** The chat the cursor belongs to (`""` for the chat list). */
  chat: z.string(),
});
type Cursor = z.infer<typeof CursorSchema>;

const encodeCursor = (cursor: Cursor) => encodePageCursor(cursor);
const decodeCursor = (value: string, chat: string) => decodePageCursor(value, CursorSchema, chat);

/** A message with its arrival order in the session, which breaks ties of equal timestamps. */
interface Placed {
  message: StoredMessage;
  seq: number;
}

const byTime = (a: Placed, b: Placed) => a.message.timestamp - b.message.timestamp || a.seq - b.seq;

/**
 * Where a page starts in `sorted` (oldest first): the index of the anchor when it is still
 * there, else the place its timestamp would have (a cursor past a message pruned since).
 */
function anchorIndex(sorted: Placed[], anchor: { t: number; id: string }, dir: Cursor["dir"]) {
  const index = sorted.findIndex((p) => p.message.id === anchor.id);
  if (index >= 0) return index;
  if (dir === "older") {
    const first = sorted.findIndex((p) => p.message.timestamp >= anchor.t);
    return first < 0 ? sorted.length : first;
  }
  return sorted.findLastIndex((p) => p.message.timestamp <= anchor.t);
}

/**
 * One page of a chat's messages, newest first (`messages` in the order they were stored).
 * `before`/`after` name a message to start past; an unknown one is a `ValidationError`.
 */
export function historyPage(
  messages: Iterable<StoredMessage>,
  chat: string,
  request: HistoryRequest,
  find: (id: string) => StoredMessage | undefined,
): Page<StoredMessage> {
  let from: Cursor | null = null;
  if (request.cursor) from = decodeCursor(request.cursor, chat);
  else if (request.before || request.after) {
    const anchorId = (request.before ?? request.after)!;
    const anchor = find(anchorId);
    if (!anchor || anchor.chat !== chat) {
      const field = request.before ? "before" : "after";
      throw new ValidationError(`${field}: no message ${anchorId} in this chat`);
    }
    from = { dir: request.before ? "older" : "newer", t: anchor.timestamp, id: anchor.id, chat };
  }
  const dir = from?.dir ?? "older";
  const sorted = placed(messages).filter((p) => p.message.chat === chat).sort(byTime);
  let taken: Placed[];
  let more: boolean;
  if (dir === "older") {
    const end = from ? anchorIndex(sorted, from, dir) : sorted.length;
    const start = Math.max(0, end - request.limit);
    taken = sorted.slice(start, end).reverse();
    more = start > 0;
  } else {
    // Towards newer: the ones right after the anchor, still shown newest first.
    const start = anchorIndex(sorted, from!, dir) + 1;
    const end = Math.min(sorted.length, start + request.limit);
    taken = sorted.slice(start, end).reverse();
    more = end < sorted.length;
  }
  const edge = dir === "older" ? taken.at(-1) : taken[0];
  return {
    items: taken.map((p) => p.message),
    nextCursor: more && edge
      ? encodeCursor({ dir, t: edge.message.timestamp, id: edge.message.id, chat })
      : null,
  };
}

/** One page of chats, the most recently active first. */
export function chatsPage(
  messages: Iterable<StoredMessage>,
  request: PageRequest,
): Page<ChatSummary> {
  const chats = new Map<string, { summary: ChatSummary; last: Placed }>();
  for (const entry of placed(messages)) {
    const { message } = entry;
    const unread = !message.fromMe && !message.read && message.deletedAt === null ? 1 : 0;
    const chat = chats.get(message.chat);
    if (!chat) {
      chats.set(message.chat, {
        summary: { jid: message.chat, lastMessage: message, unreadCount: unread },
        last: entry,
      });
      continue;
    }
    chat.summary.unreadCount += unread;
    if (byTime(entry, chat.last) > 0) {
      chat.last = entry;
      chat.summary.lastMessage = message;
    }
  }
  const sorted = [...chats.values()].sort((a, b) => byTime(b.last, a.last));
  let start = 0;
  if (request.cursor) {
    const from = decodeCursor(request.cursor, "");
    const index = sorted.findIndex((chat) => chat.summary.jid === from.id);
    start = index >= 0
      ? index + 1
      : sorted.findIndex((chat) => chat.last.message.timestamp < from.t);
    if (start < 0) start = sorted.length;
  }
  const page = sorted.slice(start, start + request.limit);
  const last = page.at(-1);
  return {
    items: page.map((chat) => chat.summary),
    nextCursor: start + page.length < sorted.length && last
      ? encodeCursor({
        dir: "older",
        t: last.last.message.timestamp,
        id: last.summary.jid,
        chat: "",
      })
      : null,
  };
}

function placed(messages: Iterable<StoredMessage>): Placed[] {
  return [...messages].map((message, seq) => ({ message, seq }));
}
