import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { MetricsRegistry } from "../../observability/metrics.ts";

const metricsRoute = createRoute({
  method: "get",
  path: "/metrics",
  tags: ["Health"],
  summary: "Prometheus metrics",
  description: "Sessions by status and event counters, in Prometheus' text format. Open like " +
    "`/health`: it shows counts only, no ids, numbers or names.",
  responses: {
    200: {
      description: "Text exposition format 0.0.4",
      content: { "text/plain": { schema: z.string() } },
    },
  },
});

export function registerMetricsRoutes(app: OpenAPIHono, metrics: MetricsRegistry): void {
  app.openapi(
    metricsRoute,
    (c) =>
      c.text(metrics.render(), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }),
  );
}
