import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Readiness } from "../../domain/session_manager.ts";

const HealthSchema = z.object({ status: z.literal("ok") }).openapi("Health");
const ReadinessSchema = z
  .object({
    ready: z.boolean(),
    restoreStarted: z.boolean(),
    total: z.number().int(),
    settled: z.number().int(),
  })
  .openapi("Readiness");

const health = createRoute({
  method: "get",
  path: "/health",
  tags: ["Health"],
  summary: "Liveness: the process is up and serving HTTP",
  responses: {
    200: { description: "Alive", content: { "application/json": { schema: HealthSchema } } },
  },
});

const ready = createRoute({
  method: "get",
  path: "/ready",
  tags: ["Health"],
  summary: "Readiness: sessions are restored and every restored session has settled",
  responses: {
    200: { description: "Ready", content: { "application/json": { schema: ReadinessSchema } } },
    503: {
      description: "Still restoring, or shutting down",
      content: { "application/json": { schema: ReadinessSchema } },
    },
  },
});

/** Registers `/health` and `/ready`. */
export function registerHealthRoutes(app: OpenAPIHono, readiness: () => Readiness): void {
  app.openapi(health, (c) => c.json({ status: "ok" as const }, 200));
  app.openapi(ready, (c) => {
    const state = readiness();
    return c.json(state, state.ready ? 200 : 503);
  });
}
