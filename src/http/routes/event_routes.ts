import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import {
  type EventBus,
  GATEWAY_EVENT_TYPES,
  type GatewayEvent,
  type GatewayEventType,
} from "../../domain/events.ts";
import { SESSION_ID_PATTERN } from "../../domain/session_id.ts";
import { errorResponses } from "../schemas.ts";

/** A comment line now and then keeps proxies from closing an idle stream. */
const KEEP_ALIVE_MS = 15_000;

const EventsQuerySchema = z.object({
  session: z.string().regex(SESSION_ID_PATTERN).optional().openapi({
    param: { name: "session", in: "query" },
    description: "Only this session's events",
  }),
  types: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (!value) return undefined;
      const types = value.split(",").map((t) => t.trim());
      const unknown = types.filter((t) => !(GATEWAY_EVENT_TYPES as readonly string[]).includes(t));
      if (unknown.length) {
        ctx.addIssue({ code: "custom", message: `unknown event types: ${unknown.join(", ")}` });
        return z.NEVER;
      }
      return new Set(types as GatewayEventType[]);
    })
    .openapi({
      param: { name: "types", in: "query" },
      description: `Comma-separated event types: ${GATEWAY_EVENT_TYPES.join(", ")}`,
    }),
});

const eventsRoute = createRoute({
  method: "get",
  path: "/api/events",
  tags: ["Events"],
  summary: "Live event stream (Server-Sent Events)",
  description:
    "Every gateway event as it happens: `event:` is its type, `data:` its JSON. Events " +
    "are not replayed; a client that reconnects misses what happened meanwhile (webhooks are " +
    "the durable outlet).",
  request: { query: EventsQuerySchema },
  responses: {
    200: {
      description: "An endless `text/event-stream`",
      content: { "text/event-stream": { schema: z.string() } },
    },
    ...errorResponses,
  },
});

/**
 * Registers `GET /api/events`. Streams end when the client goes away or when `closing` aborts
 * (gateway shutdown), so an open stream never holds up a drain.
 */
export function registerEventRoutes(app: OpenAPIHono, events: EventBus, closing: AbortSignal) {
  app.openapi(eventsRoute, (c) => {
    const { session, types } = c.req.valid("query");
    const wanted = (event: GatewayEvent) =>
      (!session || event.sessionId === session) && (!types || types.has(event.type));
    return streamSSE(c, async (stream) => {
      const queue: GatewayEvent[] = [];
      let wake = () => {};
      const ended = Promise.withResolvers<void>();
      const end = () => ended.resolve();
      stream.onAbort(end);
      closing.addEventListener("abort", end, { once: true });
      if (closing.aborted) end();
      const unsubscribe = events.subscribe((event) => {
        if (!wanted(event)) return;
        queue.push(event);
        wake();
      });
      const keepAlive = setInterval(() => {
        stream.write(": keep-alive\n\n").catch(end);
      }, KEEP_ALIVE_MS);
      let open = true;
      ended.promise.then(() => {
        open = false;
        wake();
      });
      let sequence = 0;
      try {
        await stream.write(": connected\n\n");
        while (open) {
          while (queue.length && open) {
            const event = queue.shift()!;
            await stream.writeSSE({
              event: event.type,
              id: String(++sequence),
              data: JSON.stringify(event),
            });
          }
          if (!open) break;
          await new Promise<void>((resolve) => (wake = resolve));
        }
      } finally {
        clearInterval(keepAlive);
        unsubscribe();
        closing.removeEventListener("abort", end);
      }
    }) as never;
  });
}
