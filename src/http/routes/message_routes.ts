import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import {
  normalizePhoneNumber,
  normalizeRecipient,
  type OutgoingMessage,
} from "../../domain/message.ts";
import type { SessionManager } from "../../domain/session_manager.ts";
import {
  CheckNumbersBodySchema,
  NumberChecksSchema,
  SendMessageBodySchema,
  SentMessageSchema,
} from "../message_schemas.ts";
import { bodyErrorResponses, SessionIdParamsSchema } from "../schemas.ts";

const sendMessage = createRoute({
  method: "post",
  path: "/api/sessions/{id}/messages",
  operationId: "sendMessage",
  tags: ["Messages"],
  summary: "Send a message",
  description: "Sends a text (optionally as a reply), a location or a reaction from a connected " +
    "session. The recipient is a phone number or a user JID. 409 `session_not_connected` when " +
    "the session is not connected. Media is not supported yet.",
  request: {
    params: SessionIdParamsSchema,
    body: { required: true, content: { "application/json": { schema: SendMessageBodySchema } } },
  },
  responses: {
    201: {
      description: "WhatsApp has the message",
      content: { "application/json": { schema: SentMessageSchema } },
    },
    ...bodyErrorResponses,
  },
});

const checkNumbers = createRoute({
  method: "post",
  path: "/api/sessions/{id}/check-numbers",
  operationId: "checkNumbers",
  tags: ["Messages"],
  summary: "Check which phone numbers have WhatsApp",
  request: {
    params: SessionIdParamsSchema,
    body: { required: true, content: { "application/json": { schema: CheckNumbersBodySchema } } },
  },
  responses: {
    200: {
      description: "One answer per number, in the order asked",
      content: { "application/json": { schema: NumberChecksSchema } },
    },
    ...bodyErrorResponses,
  },
});

/** Registers sending and number checks. */
export function registerMessageRoutes(app: OpenAPIHono, manager: SessionManager): void {
  app.openapi(sendMessage, async (c) => {
    const { to, ...content } = c.req.valid("json");
    // The schema has checked the recipient; normalizing cannot fail here.
    const jid = normalizeRecipient(to)!;
    const sent = await manager.sendMessage(
      c.req.valid("param").id,
      jid,
      content as OutgoingMessage,
    );
    return c.json({ ...sent, type: content.type }, 201);
  });

  app.openapi(checkNumbers, async (c) => {
    const numbers = c.req.valid("json").phoneNumbers.map((value) => normalizePhoneNumber(value)!);
    const results = await manager.checkNumbers(c.req.valid("param").id, [...new Set(numbers)]);
    const byNumber = new Map(results.map((result) => [result.phoneNumber, result]));
    return c.json({
      results: numbers.map((phoneNumber) =>
        byNumber.get(phoneNumber) ?? { phoneNumber, exists: false, jid: null }
      ),
    }, 200);
  });
}
