import { z } from "@hono/zod-openapi";
import { SESSION_ID_PATTERN } from "../domain/session_id.ts";
import { DesiredStateSchema, SessionStatusSchema } from "../domain/session.ts";
import {
  EventTypeSchema,
  MASKED_SECRET,
  MAX_SESSION_WEBHOOKS,
  MIN_WEBHOOK_SECRET_LENGTH,
  WebhookUrlSchema,
} from "../domain/webhook.ts";

/** `{error: {code, message}}`, the body of every error response. */
export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "session_not_found" }),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi("Error");

const sessionIdField = z
  .string()
  .regex(
    SESSION_ID_PATTERN,
    "must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-', starting with a letter or digit",
  );

export const SessionIdParamsSchema = z.object({
  id: sessionIdField.openapi({ param: { name: "id", in: "path" }, example: "shop-1" }),
});

/** A webhook as responses show it: the secret is always masked. */
export const WebhookViewSchema = z
  .object({
    url: z.string().openapi({ example: "https://example.com/hooks/whatsapp" }),
    events: z.array(EventTypeSchema),
    secret: z.literal(MASKED_SECRET),
  })
  .openapi("Webhook");

/** A webhook as requests give it; the masked secret keeps the one stored for the same URL. */
const WebhookInputSchema = z
  .object({
    url: z
      .string()
      .max(2048)
      .refine(
        (value) => WebhookUrlSchema.safeParse(value).success,
        "must be an http(s) URL without a user name or password",
      )
      .openapi({ example: "https://example.com/hooks/whatsapp" }),
    events: z.array(EventTypeSchema).max(16).optional().openapi({
      description: "Event types to send; absent or empty means every type.",
    }),
    secret: z
      .string()
      .max(256)
      .refine(
        (value) => value === MASKED_SECRET || value.length >= MIN_WEBHOOK_SECRET_LENGTH,
        `must be at least ${MIN_WEBHOOK_SECRET_LENGTH} characters ('${MASKED_SECRET}' keeps ` +
          "the current secret of the same URL)",
      )
      .openapi({ description: "Signs every delivery (HMAC-SHA256). Never returned." }),
  })
  .strict()
  .openapi("WebhookInput");

const webhooksField = z
  .array(WebhookInputSchema)
  .max(MAX_SESSION_WEBHOOKS)
  .refine(
    (hooks) => new Set(hooks.map((hook) => hook.url)).size === hooks.length,
    "each webhook URL may appear once",
  );

export const SessionSchema = z
  .object({
    id: z.string().openapi({ example: "shop-1" }),
    name: z.string().nullable(),
    status: SessionStatusSchema,
    desiredState: DesiredStateSchema,
    phoneNumber: z.string().nullable().openapi({ example: "15550001111" }),
    pushName: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string().optional(),
    connectedAt: z.string().nullable(),
    lastDisconnectedAt: z.string().nullable(),
    lastDisconnect: z
      .object({
        code: z.number().nullable(),
        reason: z.string(),
        message: z.string().nullable(),
        at: z.string(),
      })
      .nullable(),
    webhooks: z.array(WebhookViewSchema),
    node: z.string().nullable().openapi({
      description: "The node running the session (its `NODE_ID`); null while none does",
      example: "gw-1",
    }),
    statusHistory: z
      .array(
        z.object({
          status: SessionStatusSchema,
          previousStatus: SessionStatusSchema.nullable(),
          at: z.string(),
          reason: z.string().nullable().openapi({ description: "Why the connection ended" }),
        }),
      )
      .openapi({ description: "The latest status changes, oldest first (since the last start)" }),
    storageProblem: z
      .object({
        code: z.literal("insufficient_storage"),
        message: z.string(),
        since: z.string(),
        unwrittenAuthFiles: z.number().int().openapi({
          description: "This session's auth file changes waiting in memory to be written",
        }),
      })
      .nullable()
      .openapi({ description: "Set while the data directory's disk is full" }),
  })
  .openapi("Session");

const nameField = z.string().trim().min(1).max(200).nullable();

export const CreateSessionBodySchema = z
  .object({
    id: sessionIdField.optional().openapi({ example: "shop-1" }),
    name: nameField.optional().openapi({ example: "Shop front desk" }),
    webhooks: webhooksField.optional(),
  })
  .strict()
  .openapi("CreateSession");

export const UpdateSessionBodySchema = z
  .object({
    name: nameField.optional(),
    webhooks: webhooksField.optional().openapi({
      description: "Replaces the session's webhooks (an empty list removes them).",
    }),
  })
  .strict()
  .openapi("UpdateSession");

export const SessionListSchema = z
  .object({ sessions: z.array(SessionSchema) })
  .openapi("SessionList");

/** Standard error responses, spread into each route's `responses`. */
export const errorResponses = {
  400: { description: "Invalid input", content: { "application/json": { schema: ErrorSchema } } },
  404: { description: "Unknown session", content: { "application/json": { schema: ErrorSchema } } },
  409: { description: "Conflict", content: { "application/json": { schema: ErrorSchema } } },
} as const;

export const bodyErrorResponses = {
  ...errorResponses,
  413: { description: "Body too large", content: { "application/json": { schema: ErrorSchema } } },
  415: {
    description: "Wrong content type",
    content: { "application/json": { schema: ErrorSchema } },
  },
} as const;
