import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { type EventBus, eventPayload, type GatewayEvent } from "../../domain/events.ts";
import { SESSION_ID_PATTERN } from "../../domain/session_id.ts";
import { EVENT_TYPES, EventTypeSchema } from "../../domain/webhook.ts";

/** Options of {@linkcode registerEventStreamRoutes}. */
export interface EventStreamOptions {
  events: EventBus;
  /** How often an idle stream gets a `: keep-alive` comment. */
  keepAliveMs: number;
  /** Aborted when the gateway shuts down: every stream ends, so the server can drain. */
  shutdownSignal?: AbortSignal;
  /** Events one client may fall behind by before its stream is closed (default 1,000). */
  maxBacklog?: number;
}

const typesField = z
  .string()
  .max(512)
  .refine(
    (value) => value.split(",").every((type) => EventTypeSchema.safeParse(type.trim()).success),
    `must be a comma-separated list of ${EVENT_TYPES.join(", ")}`,
  );

const streamEvents = createRoute({
  method: "get",
  path: "/api/events",
  operationId: "streamEvents",
  tags: ["Events"],
  summary: "A live stream of events (Server-Sent Events)",
  description: "Each event is sent as `event: <type>`, `id: <event id>` and `data: <JSON>` (the " +
    "same JSON a webhook receives). A `: keep-alive` comment is sent when idle. Live only: " +
    "events from before the connection are not replayed (webhooks are the durable outlet).",
  request: {
    query: z.object({
      session: z
        .string()
        .regex(SESSION_ID_PATTERN, "must be a session id")
        .optional()
        .openapi({ param: { name: "session", in: "query" }, example: "shop-1" }),
      types: typesField.optional().openapi({
        param: { name: "types", in: "query" },
        example: "message.received,message.status",
      }),
    }),
  },
  responses: {
    200: {
      description: "The event stream",
      content: { "text/event-stream": { schema: z.string() } },
    },
    400: {
      description: "Invalid filter",
      content: {
        "application/json": {
          schema: z.object({ error: z.object({ code: z.string(), message: z.string() }) }),
        },
      },
    },
  },
});

/** Registers `GET /api/events`. */
export function registerEventStreamRoutes(app: OpenAPIHono, options: EventStreamOptions): void {
  const maxBacklog = options.maxBacklog ?? 1_000;
  app.openapi(streamEvents, (c) => {
    const { session, types } = c.req.valid("query");
    const wanted = types ? new Set(types.split(",").map((type) => type.trim())) : null;
    const matches = (event: GatewayEvent) =>
      (!session || event.sessionId === session) && (!wanted || wanted.has(event.type));

    return streamSSE(c, async (stream) => {
      const backlog: GatewayEvent[] = [];
      let wake: (() => void) | undefined;
      let overflow = false;
      let closed = false;
      const close = () => {
        closed = true;
        wake?.();
      };
      // Subscribed before the first byte is written, so nothing published after the client got
      // the response headers is missed.
      const unsubscribe = options.events.subscribe((event) => {
        if (!matches(event)) return;
        if (backlog.length >= maxBacklog) overflow = true;
        else backlog.push(event);
        wake?.();
      });
      stream.onAbort(close);
      options.shutdownSignal?.addEventListener("abort", close);
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        if (options.shutdownSignal?.aborted) return;
        await stream.write(": connected\n\n");
        while (!closed) {
          while (backlog.length > 0 && !closed) {
            const event = backlog.shift()!;
            await stream.writeSSE({
              id: event.id,
              event: event.type,
              data: JSON.stringify(eventPayload(event)),
            });
          }
          if (overflow) {
            await stream.writeSSE({
              event: "error",
              data: JSON.stringify({ code: "too_slow", message: "Too far behind; reconnect" }),
            });
            return;
          }
          if (closed) return;
          const idle = await new Promise<boolean>((resolve) => {
            wake = () => resolve(false);
            timer = setTimeout(() => resolve(true), options.keepAliveMs);
          });
          clearTimeout(timer);
          wake = undefined;
          if (idle && !closed) await stream.write(": keep-alive\n\n");
        }
      } finally {
        clearTimeout(timer);
        unsubscribe();
        options.shutdownSignal?.removeEventListener("abort", close);
      }
    });
  });
}
