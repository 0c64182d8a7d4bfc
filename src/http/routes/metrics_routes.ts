import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import {
  EXPOSITION_CONTENT_TYPE,
  type MetricsRegistry,
} from "../../observability/metrics_registry.ts";

const metricsRoute = createRoute({
  method: "get",
  path: "/metrics",
  operationId: "getMetrics",
  tags: ["Health"],
  summary: "Metrics in the Prometheus text format",
  description: "Sessions by status, reconnects, HTTP requests, persistence write latency, " +
    "messages and webhook deliveries. Carries counts only: no ids, phone numbers or keys. " +
    "Open like `/health`; `METRICS_ENABLED=false` removes it.",
  responses: {
    200: {
      description: "The metrics",
      content: { [EXPOSITION_CONTENT_TYPE]: { schema: z.string() } },
    },
  },
});

/** Registers `GET /metrics`, rendering `registry` at every scrape. */
export function registerMetricsRoute(app: OpenAPIHono, registry: MetricsRegistry): void {
  app.openapi(metricsRoute, (c) =>
    c.text(registry.render(), 200, {
      "content-type": EXPOSITION_CONTENT_TYPE,
      "cache-control": "no-store",
    }));
}
