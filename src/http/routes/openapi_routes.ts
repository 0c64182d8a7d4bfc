import type { OpenAPIHono } from "@hono/zod-openapi";

/** The OpenAPI 3.1 document of every route, generated from the schemas the routes validate with. */
export function registerOpenApiRoutes(app: OpenAPIHono, version: string): void {
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "WA Gateway",
      version,
      description:
        "A multi-session WhatsApp gateway: sessions, their QR codes and lifecycle, messages, " +
        "webhooks and a live event stream.",
    },
  });
}
