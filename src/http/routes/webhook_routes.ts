import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { DeadLetterNotFoundError } from "../../domain/errors.ts";
import { MASKED_SECRET } from "../../domain/webhook.ts";
import type { DeadLetter, OutboxEntry } from "../../domain/webhook_outbox.ts";
import { ErrorSchema } from "../schemas.ts";

/** What the dead-letter routes need (the gateway's `WebhookService`). */
export interface DeadLetterAdmin {
  deadLetters(): Promise<DeadLetter[]>;
  retryDeadLetter(id: string): Promise<OutboxEntry | undefined>;
  discardDeadLetter(id: string): Promise<boolean>;
}

const DeadLetterSchema = z
  .object({
    id: z.string().openapi({ example: "dlv_0b6f3c1e-2f7e-4d55-9d0c-5c1a3f0e9b7a" }),
    eventId: z.string(),
    eventType: z.string().openapi({ example: "message.received" }),
    sessionId: z.string(),
    endpoint: z.object({
      scope: z.enum(["global", "session"]),
      url: z.string(),
      secret: z.literal(MASKED_SECRET),
    }),
    attempts: z.number().int(),
    lastError: z.string().openapi({ example: "HTTP 503" }),
    createdAt: z.string(),
    deadAt: z.string(),
    /** The body that was being delivered (the event), parsed. */
    event: z.unknown(),
  })
  .openapi("DeadLetter");

const idParams = z.object({
  id: z.string().max(100).openapi({ param: { name: "id", in: "path" } }),
});

const notFound = {
  404: {
    description: "Unknown dead letter",
    content: { "application/json": { schema: ErrorSchema } },
  },
};

const listDeadLetters = createRoute({
  method: "get",
  path: "/api/webhooks/dead-letters",
  operationId: "listDeadLetters",
  tags: ["Webhooks"],
  summary: "Webhook deliveries that exhausted their retries",
  request: {
    query: z.object({
      session: z.string().max(64).optional().openapi({ param: { name: "session", in: "query" } }),
    }),
  },
  responses: {
    200: {
      description: "Dead letters, oldest first",
      content: {
        "application/json": { schema: z.object({ deadLetters: z.array(DeadLetterSchema) }) },
      },
    },
  },
});

const retryDeadLetter = createRoute({
  method: "post",
  path: "/api/webhooks/dead-letters/{id}/retry",
  operationId: "retryDeadLetter",
  tags: ["Webhooks"],
  summary: "Deliver a dead letter again",
  description: "Moves it back to the outbox, at the end of its session's queue for its endpoint, " +
    "with a fresh set of attempts.",
  request: { params: idParams },
  responses: {
    202: {
      description: "Queued for delivery",
      content: {
        "application/json": {
          schema: z.object({ id: z.string(), eventId: z.string(), status: z.literal("queued") }),
        },
      },
    },
    ...notFound,
  },
});

const deleteDeadLetter = createRoute({
  method: "delete",
  path: "/api/webhooks/dead-letters/{id}",
  operationId: "discardDeadLetter",
  tags: ["Webhooks"],
  summary: "Delete a dead letter",
  request: { params: idParams },
  responses: { 204: { description: "Deleted" }, ...notFound },
});

/** Registers the dead-letter routes. */
export function registerWebhookRoutes(app: OpenAPIHono, admin: DeadLetterAdmin): void {
  app.openapi(listDeadLetters, async (c) => {
    const session = c.req.valid("query").session;
    const letters = (await admin.deadLetters()).filter((l) =>
      !session || l.entry.sessionId === session
    );
    return c.json({ deadLetters: letters.map(toView) }, 200);
  });

  app.openapi(retryDeadLetter, async (c) => {
    const id = c.req.valid("param").id;
    const entry = await admin.retryDeadLetter(id);
    if (!entry) throw new DeadLetterNotFoundError(id);
    return c.json({ id: entry.id, eventId: entry.eventId, status: "queued" as const }, 202);
  });

  app.openapi(deleteDeadLetter, async (c) => {
    const id = c.req.valid("param").id;
    if (!(await admin.discardDeadLetter(id))) throw new DeadLetterNotFoundError(id);
    return c.body(null, 204);
  });
}

function toView(letter: DeadLetter) {
  const { entry } = letter;
  return {
    id: entry.id,
    eventId: entry.eventId,
    eventType: entry.eventType,
    sessionId: entry.sessionId,
    endpoint: {
      scope: entry.endpoint.scope,
      url: entry.endpoint.url,
      secret: MASKED_SECRET as typeof MASKED_SECRET,
    },
    attempts: letter.attempts,
    lastError: letter.lastError,
    createdAt: entry.createdAt,
    deadAt: letter.deadAt,
    event: JSON.parse(entry.body),
  };
}
