import { z } from "@hono/zod-openapi";
import { MESSAGE_STATUSES } from "../domain/message.ts";
import type { ChatSummary, StoredMessage } from "../domain/message_store.ts";
import { SessionIdParamsSchema } from "./schemas.ts";

/** Chat JIDs in paths: a user (`…@s.whatsapp.net`), a LID (`…@lid`) or a group (`…@g.us`). */
const chatJidField = z
  .string()
  .regex(
    /^[0-9A-Za-z._:-]{1,64}@(?:s\.whatsapp\.net|lid|g\.us|broadcast|newsletter)$/,
    "must be a chat JID such as 15550009999@s.whatsapp.net",
  );

export const ChatParamsSchema = SessionIdParamsSchema.extend({
  jid: chatJidField.openapi({
    param: { name: "jid", in: "path" },
    example: "15550009999@s.whatsapp.net",
  }),
});

const limitField = z.coerce.number().int().min(1).max(200).default(50).openapi({
  description: "Items per page (1-200, default 50).",
});
const cursorField = z.string().min(1).max(512).openapi({
  description: "`nextCursor` of the previous page.",
});
const messageIdField = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/);

export const ChatsQuerySchema = z.object({
  limit: limitField,
  cursor: cursorField.optional(),
});

export const HistoryQuerySchema = z
  .object({
    limit: limitField,
    cursor: cursorField.optional(),
    before: messageIdField.optional().openapi({
      description: "Messages older than this one (newest first).",
    }),
    after: messageIdField.optional().openapi({
      description: "Messages newer than this one: the ones right after it, newest first.",
    }),
  })
  .refine(
    (q) => [q.cursor, q.before, q.after].filter((v) => v !== undefined).length <= 1,
    "give at most one of cursor, before and after",
  );

export const StoredMessageViewSchema = z
  .object({
    id: z.string().openapi({ example: "3EB0C431D8A1F3B2A1" }),
    chat: z.string().openapi({ example: "15550009999@s.whatsapp.net" }),
    sender: z.string().nullable(),
    fromMe: z.boolean(),
    pushName: z.string().nullable(),
    timestamp: z.string().openapi({ description: "ISO time WhatsApp gave the message." }),
    type: z.string().openapi({ example: "text" }),
    text: z.string().nullable(),
    status: z.enum(MESSAGE_STATUSES).nullable().openapi({
      description: "A sent message's progress; null for received ones.",
    }),
    read: z.boolean(),
    editedAt: z.string().nullable(),
    deletedAt: z.string().nullable(),
  })
  .openapi("StoredMessage");

export const ChatViewSchema = z
  .object({
    jid: z.string(),
    unreadCount: z.number().int(),
    lastMessage: StoredMessageViewSchema,
  })
  .openapi("Chat");

export const ChatPageSchema = z
  .object({ items: z.array(ChatViewSchema), nextCursor: z.string().nullable() })
  .openapi("ChatPage");

export const MessagePageSchema = z
  .object({ items: z.array(StoredMessageViewSchema), nextCursor: z.string().nullable() })
  .openapi("MessagePage");

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A stored message as the API shows it (its raw content stays inside). */
export function storedMessageView(message: StoredMessage): z.infer<typeof StoredMessageViewSchema> {
  return {
    id: message.id,
    chat: message.chat,
    sender: message.sender,
    fromMe: message.fromMe,
    pushName: message.pushName,
    timestamp: new Date(message.timestamp).toISOString(),
    type: message.type,
    text: message.text,
    status: message.status,
    read: message.read,
    editedAt: iso(message.editedAt),
    deletedAt: iso(message.deletedAt),
  };
}

/** A chat as the API shows it. */
export function chatView(chat: ChatSummary): z.infer<typeof ChatViewSchema> {
  return {
    jid: chat.jid,
    unreadCount: chat.unreadCount,
    lastMessage: storedMessageView(chat.lastMessage),
  };
}
