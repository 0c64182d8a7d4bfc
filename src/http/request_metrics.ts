import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { Counter } from "../observability/metrics_registry.ts";

/** The `route` label of a request that matched no route (a 404 from the not-found handler). */
export const UNMATCHED_ROUTE = "unmatched";

/**
 * Counts every response by method, route pattern and status. The route is the pattern the
 * request matched (`/api/sessions/:id`), never the raw path, so ids do not multiply the series.
 * Register it first, so that it also sees responses produced by other middleware (401, 413).
 *
 * @example
 * ```ts
 * app.use("*", countRequests(metrics.httpRequests));
 * ```
 */
export function countRequests(
  counter: Counter<"method" | "route" | "status">,
): MiddlewareHandler {
  return async (c, next) => {
    await next();
    // Middleware is registered for every method ("ALL"); the handler route is the real match.
    const route = matchedRoutes(c).findLast((r) => r.method !== "ALL")?.path ?? UNMATCHED_ROUTE;
    counter.inc({ method: c.req.method, route, status: String(c.res.status) });
  };
}
