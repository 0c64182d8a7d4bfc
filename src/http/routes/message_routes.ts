import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import {
  LocationMessageSchema,
  ReactionMessageSchema,
  RecipientSchema,
  TextMessageSchema,
} from "../../domain/message.ts";
import type { SessionManager } from "../../domain/session_manager.ts";
import { errorResponses, SessionIdParamsSchema } from "../schemas.ts";

const recipient = { to: RecipientSchema.openapi({ example: "+15550009999" }) };

const SendMessageBodySchema = z
  .discriminatedUnion("type", [
    TextMessageSchema.extend(recipient),
    LocationMessageSchema.extend(recipient),
    ReactionMessageSchema.extend(recipient),
  ])
  .openapi("SendMessage");

const SentMessageSchema = z
  .object({
    id: z.string().openapi({ example: "3EB0C431C26A1916E07A" }),
    to: z.string().openapi({ example: "15550009999@s.whatsapp.net" }),
    status: z.enum(["pending", "server_ack", "delivered", "read", "error"]),
    timestamp: z.string(),
  })
  .openapi("SentMessage");

const sendRoute = createRoute({
  method: "post",
  path: "/api/sessions/{id}/messages",
  tags: ["Messages"],
  summary: "Send a message",
  description: "Sends a text (optionally quoting a message), a location or a reaction to a phone " +
    "number or user JID. 409 `session_not_connected` unless the session is connected.",
  request: {
    params: SessionIdParamsSchema,
    body: { required: true, content: { "application/json": { schema: SendMessageBodySchema } } },
  },
  responses: {
    201: {
      description: "Written to WhatsApp; `id` is WhatsApp's message id",
      content: { "application/json": { schema: SentMessageSchema } },
    },
    ...errorResponses,
  },
});

/** Registers the message routes; `onSent` is told of every message written to WhatsApp. */
export function registerMessageRoutes(
  app: OpenAPIHono,
  manager: SessionManager,
  onSent: () => void = () => {},
): void {
  app.openapi(sendRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { to, ...message } = c.req.valid("json");
    const sent = await manager.sendMessage(id, to, message);
    onSent();
    return c.json(sent, 201);
  });
}
