import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { SessionManager } from "../../domain/session_manager.ts";
import {
  ChatPageSchema,
  ChatParamsSchema,
  ChatsQuerySchema,
  chatView,
  HistoryQuerySchema,
  MessagePageSchema,
  storedMessageView,
} from "../chat_schemas.ts";
import { errorResponses, SessionIdParamsSchema } from "../schemas.ts";

const listChats = createRoute({
  method: "get",
  path: "/api/sessions/{id}/chats",
  operationId: "listChats",
  tags: ["Chats"],
  summary: "List chats",
  description: "The session's chats in the message store, the most recently active first, " +
    "each with its last message and how many received messages are unread. Cursor-paginated.",
  request: { params: SessionIdParamsSchema, query: ChatsQuerySchema },
  responses: {
    200: {
      description: "One page of chats",
      content: { "application/json": { schema: ChatPageSchema } },
    },
    ...errorResponses,
  },
});

const chatHistory = createRoute({
  method: "get",
  path: "/api/sessions/{id}/chats/{jid}/messages",
  operationId: "listChatMessages",
  tags: ["Chats"],
  summary: "A chat's message history",
  description: "Stored messages of one chat, newest first, sent and received, within the " +
    "retention (`MESSAGE_RETENTION_DAYS`, `MESSAGE_STORE_MAX_BYTES`). `before`/`after` start " +
    "past a message; `cursor` continues a page in the same direction.",
  request: { params: ChatParamsSchema, query: HistoryQuerySchema },
  responses: {
    200: {
      description: "One page of messages",
      content: { "application/json": { schema: MessagePageSchema } },
    },
    ...errorResponses,
  },
});

/** Registers the chat list and history routes. */
export function registerChatRoutes(app: OpenAPIHono, manager: SessionManager): void {
  app.openapi(listChats, async (c) => {
    const page = await manager.chats(c.req.valid("param").id, c.req.valid("query"));
    return c.json({ items: page.items.map(chatView), nextCursor: page.nextCursor }, 200);
  });

  app.openapi(chatHistory, async (c) => {
    const { id, jid } = c.req.valid("param");
    const page = await manager.history(id, jid, c.req.valid("query"));
    return c.json({ items: page.items.map(storedMessageView), nextCursor: page.nextCursor }, 200);
  });
}
