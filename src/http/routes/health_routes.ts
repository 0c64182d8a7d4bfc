import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Readiness } from "../../domain/session_manager.ts";

const HealthSchema = z.object({ status: z.literal("ok") }).openapi("Health");
const ReadinessSchema = z
  .object({
    ready: z.boolean(),
    restoreStarted: z.boolean(),
    total: z.number().int(),
    settled: z.number().int(),
    storageWritable: z.boolean().openapi({
      description: "False while the data directory's disk is full (then not ready either)",
    }),
  })
  .openapi("Readiness");

const health = createRoute({
  method: "get",
  path: "/health",
  operationId: "getHealth",
  tags: ["Health"],
  summary: "Liveness: the process is up and serving HTTP",
  responses: {
    200: { description: "Alive", content: { "application/json": { schema: HealthSchema } } },
  },
});

const ready = createRoute({
  method: "get",
  path: "/ready",
  operationId: "getReadiness",
  tags: ["Health"],
  summary:
    "Readiness: sessions are restored, every restored session has settled, and the store writes",
  responses: {
    200: { description: "Ready", content: { "application/json": { schema: ReadinessSchema } } },
    503: {
      description: "Still restoring, shutting down, or the store cannot write (disk full)",
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
