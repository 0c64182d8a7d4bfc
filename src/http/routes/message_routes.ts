import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import {
  normalizePhoneNumber,
  normalizeRecipient,
  type OutgoingMessage,
} from "../../domain/message.ts";
import type { SessionManager } from "../../domain/session_manager.ts";
import type { IdempotentSends } from "../../domain/idempotent_sends.ts";
import type { SentMessage } from "../../domain/message.ts";
import { idempotencyErrorResponses, IdempotencyHeadersSchema } from "../idempotency_key.ts";
import { sendOnce } from "../idempotent_send.ts";
import {
  CheckNumbersBodySchema,
  NumberChecksSchema,
  SentMessageSchema,
} from "../message_schemas.ts";
import { MediaMessageFormSchema, SendAnyMessageBodySchema } from "../media_message_schemas.ts";
import { bodyErrorResponses, SessionIdParamsSchema } from "../schemas.ts";

const sendMessage = createRoute({
  method: "post",
  path: "/api/sessions/{id}/messages",
  operationId: "sendMessage",
  tags: ["Messages"],
  summary: "Send a message",
  description: "Sends a text (optionally as a reply), a location, a reaction, a contact card, a " +
    "poll, or a file (`image`, `video`, `audio`, `voice`, `document`, `sticker`, with an " +
    "optional caption, reply and mentions) from a connected session. The recipient is a phone " +
    "number or a user JID. A file comes as `media.url` (fetched by the gateway), " +
    "`media.base64`, or as `multipart/form-data` with a `file` part and the other fields as " +
    "form fields. 413 past `MAX_MEDIA_BYTES`; 415 when the content is not of a type its kind " +
    "takes or contradicts its mimetype; 400 `media_url_forbidden` for a URL to a loopback, " +
    "private or link-local address. 409 `session_not_connected` when the session is not " +
    "connected. With an `Idempotency-Key` header a retry never sends twice (see the header).",
  request: {
    params: SessionIdParamsSchema,
    headers: IdempotencyHeadersSchema,
    body: { required: true, content: { "application/json": { schema: SendAnyMessageBodySchema } } },
  },
  responses: {
    201: {
      description: "WhatsApp has the message",
      content: { "application/json": { schema: SentMessageSchema } },
    },
    ...bodyErrorResponses,
    ...idempotencyErrorResponses,
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
export function registerMessageRoutes(
  app: OpenAPIHono,
  manager: SessionManager,
  idempotentSends: IdempotentSends,
): void {
  // The document also shows the multipart form, which media_message_routes.ts reads before this
  // route (declared here, its validator would run on JSON bodies too).
  app.openAPIRegistry.registerPath({
    ...sendMessage,
    request: {
      ...sendMessage.request,
      body: {
        required: true,
        content: {
          ...sendMessage.request.body.content,
          "multipart/form-data": { schema: MediaMessageFormSchema },
        },
      },
    },
  });
  app.openapi({ ...sendMessage, hide: true }, async (c) => {
    // Files never get here: media_message_routes.ts answers those first.
    const body = c.req.valid("json");
    const { to, ...content } = body;
    const sessionId = c.req.valid("param").id;
    // The schema has checked the recipient; normalizing cannot fail here.
    const jid = normalizeRecipient(to)!;
    const answer = await sendOnce(
      { manager, idempotentSends },
      {
        sessionId,
        jid,
        type: content.type,
        key: c.req.valid("header")["idempotency-key"],
        request: body,
      },
      (messageId) => manager.sendMessage(sessionId, jid, content as OutgoingMessage, { messageId }),
    );
    return c.json(answer as SentMessage & { type: typeof content.type }, 201);
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
