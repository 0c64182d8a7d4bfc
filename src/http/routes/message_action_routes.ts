import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { MessageActions } from "../../domain/message_actions.ts";
import type { SessionManager } from "../../domain/session_manager.ts";
import { MessageNotFoundError } from "../../domain/errors.ts";
import { ChatParamsSchema, storedMessageView, StoredMessageViewSchema } from "../chat_schemas.ts";
import { MAX_TEXT_LENGTH } from "../message_schemas.ts";
import { bodyErrorResponses, errorResponses, SessionIdParamsSchema } from "../schemas.ts";

const MessageParamsSchema = SessionIdParamsSchema.extend({
  messageId: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "must be a message id").openapi({
    param: { name: "messageId", in: "path" },
    example: "3EB0C431D8A1F3B2A1",
  }),
});

const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });
const messageIds = z.array(z.string().regex(/^[A-Za-z0-9_-]{1,128}$/)).min(1).max(500);

const getMessage = createRoute({
  method: "get",
  path: "/api/sessions/{id}/messages/{messageId}",
  operationId: "getStoredMessage",
  tags: ["Messages"],
  summary: "One stored message",
  request: { params: MessageParamsSchema },
  responses: {
    200: { description: "The message", content: json(StoredMessageViewSchema) },
    ...errorResponses,
  },
});

const editMessage = createRoute({
  method: "patch",
  path: "/api/sessions/{id}/messages/{messageId}",
  operationId: "editMessage",
  tags: ["Messages"],
  summary: "Edit a sent text",
  description: "Replaces the text of a text message this session sent (WhatsApp allows it for " +
    "15 minutes); publishes `message.edited`. 404 when the message is not in the store, 409 " +
    "when it is not this session's or the session is not connected.",
  request: {
    params: MessageParamsSchema,
    body: {
      required: true,
      content: json(z.object({ text: z.string().min(1).max(MAX_TEXT_LENGTH) }).strict()),
    },
  },
  responses: {
    200: { description: "The message as edited", content: json(StoredMessageViewSchema) },
    ...bodyErrorResponses,
  },
});

const deleteMessage = createRoute({
  method: "delete",
  path: "/api/sessions/{id}/messages/{messageId}",
  operationId: "deleteMessage",
  tags: ["Messages"],
  summary: "Delete a sent message for everyone",
  description: "Revokes a message this session sent; publishes `message.deleted`.",
  request: { params: MessageParamsSchema },
  responses: { 204: { description: "Deleted for everyone" }, ...errorResponses },
});

const markRead = createRoute({
  method: "post",
  path: "/api/sessions/{id}/chats/{jid}/read",
  operationId: "markChatRead",
  tags: ["Chats"],
  summary: "Mark messages read",
  description: "Sends read receipts for the chat's unread received messages (the listed ones, " +
    "or all of them) and marks them read in the store.",
  request: {
    params: ChatParamsSchema,
    body: {
      required: false,
      content: json(z.object({ messageIds: messageIds.optional() }).strict()),
    },
  },
  responses: {
    200: {
      description: "How many messages were marked",
      content: json(z.object({ marked: z.number().int() }).openapi("MarkedRead")),
    },
    ...bodyErrorResponses,
  },
});

const presence = createRoute({
  method: "post",
  path: "/api/sessions/{id}/chats/{jid}/presence",
  operationId: "setChatPresence",
  tags: ["Chats"],
  summary: "Show typing or recording",
  description: "Shows the chat that this account is `typing` or `recording` a voice note, or " +
    "stops it (`paused`). WhatsApp clears it by itself after a while.",
  request: {
    params: ChatParamsSchema,
    body: {
      required: true,
      content: json(z.object({ state: z.enum(["typing", "recording", "paused"]) }).strict()),
    },
  },
  responses: { 204: { description: "Sent" }, ...bodyErrorResponses },
});

/** Registers reading, editing and deleting stored messages, read receipts and chat presence. */
export function registerMessageActionRoutes(
  app: OpenAPIHono,
  manager: SessionManager,
  actions: MessageActions,
): void {
  app.openapi(getMessage, async (c) => {
    const { id, messageId } = c.req.valid("param");
    const message = await manager.storedMessage(id, messageId);
    if (!message) throw new MessageNotFoundError(messageId);
    return c.json(storedMessageView(message), 200);
  });

  app.openapi(editMessage, async (c) => {
    const { id, messageId } = c.req.valid("param");
    const edited = await actions.edit(id, messageId, c.req.valid("json").text);
    return c.json(storedMessageView(edited), 200);
  });

  app.openapi(deleteMessage, async (c) => {
    const { id, messageId } = c.req.valid("param");
    await actions.delete(id, messageId);
    return c.body(null, 204);
  });

  app.openapi(markRead, async (c) => {
    const { id, jid } = c.req.valid("param");
    const body = c.req.header("content-type") ? c.req.valid("json") : {};
    return c.json({ marked: await actions.markRead(id, jid, body.messageIds) }, 200);
  });

  app.openapi(presence, async (c) => {
    const { id, jid } = c.req.valid("param");
    await actions.presence(id, jid, c.req.valid("json").state);
    return c.body(null, 204);
  });
}
