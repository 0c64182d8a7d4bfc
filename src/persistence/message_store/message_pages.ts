/**
 * Cursor pagination over a session's messages held in memory: chats by their last activity,
 * a chat's history newest first. Cursors are base64url JSON of the position after the page.
 */
import { Buffer } from "node:buffer";
import { z } from "zod";
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

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString("base64url");
}

function decodeCursor(value: string, chat: string): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, "base64url").toString("utf8"));
  } catch {
    parsed = undefined;
  }
  const cursor = CursorSchema.safeParse(parsed);
  if (!cursor.success || cursor.data.chat !== chat) {
    throw new ValidationError("cursor: not a cursor of this listing");
  }
  return cursor.data;
}

/** Order of messages and chats: by time, then id, so that every position is unique. */
function compare(a: { t: number; id: string }, b: { t: number; id: string }): number {
  return a.t - b.t || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

const position = (message: StoredMessage) => ({ t: message.timestamp, id: message.id });

/**
 * One page of a chat's messages, newest first. `before`/`after` name a message to start past;
 * an unknown one is a `ValidationError`.
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
      throw new ValidationError(
        `${request.before ? "before" : "after"}: no message ${anchorId} in this chat`,
      );
    }
    from = { dir: request.before ? "older" : "newer", ...position(anchor), chat };
  }
  const dir = from?.dir ?? "older";
  const inChat = [...messages].filter((m) => m.chat === chat);
  const candidates = inChat.filter((m) => {
    if (!from) return true;
    const order = compare(position(m), from);
    return dir === "older" ? order < 0 : order > 0;
  });
  // Towards older: the newest candidates; towards newer: the ones right after the anchor.
  candidates.sort((a, b) => compare(position(b), position(a)));
  const taken = dir === "older"
    ? candidates.slice(0, request.limit)
    : candidates.slice(Math.max(0, candidates.length - request.limit));
  const more = candidates.length > taken.length;
  const edge = dir === "older" ? taken.at(-1) : taken[0];
  return {
    items: taken,
    nextCursor: more && edge ? encodeCursor({ dir, ...position(edge), chat }) : null,
  };
}

/** One page of chats, the most recently active first. */
export function chatsPage(
  messages: Iterable<StoredMessage>,
  request: PageRequest,
): Page<ChatSummary> {
  const chats = new Map<string, ChatSummary>();
  for (const message of messages) {
    const chat = chats.get(message.chat);
    const unread = !message.fromMe && !message.read && message.deletedAt === null ? 1 : 0;
    if (!chat) {
      chats.set(message.chat, { jid: message.chat, lastMessage: message, unreadCount: unread });
      continue;
    }
    chat.unreadCount += unread;
    if (compare(position(message), position(chat.lastMessage)) > 0) chat.lastMessage = message;
  }
  const at = (chat: ChatSummary) => ({ t: chat.lastMessage.timestamp, id: chat.jid });
  let sorted = [...chats.values()].sort((a, b) => compare(at(b), at(a)));
  if (request.cursor) {
    const from = decodeCursor(request.cursor, "");
    sorted = sorted.filter((chat) => compare(at(chat), from) < 0);
  }
  const items = sorted.slice(0, request.limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: sorted.length > items.length && last
      ? encodeCursor({ dir: "older", ...at(last), chat: "" })
      : null,
  };
}
