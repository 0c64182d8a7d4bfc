/**
 * The API's description: the OpenAPI 3.1 document generated from the routes' own zod schemas, and
 * Swagger UI to browse it. Swagger UI is served from the `swagger-ui-dist` package (see
 * `swagger_ui_assets.ts`), loaded on the first request for it.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";

/** Where the OpenAPI document is served. */
export const OPENAPI_PATH = "/openapi.json";

/** Where Swagger UI is served; its assets live below it. */
export const DOCS_PATH = "/docs";

/** Routes guarded by the API key (the auth middleware is mounted on the same pattern). */
const PROTECTED_PREFIX = "/api/";

/** The security schemes of every `/api/*` operation: `X-Api-Key`, or a bearer token. */
export const SECURITY_SCHEMES = {
  ApiKey: {
    type: "apiKey",
    in: "header",
    name: "X-Api-Key",
    description: "The gateway's API key (see README, Configuration).",
  },
  Bearer: {
    type: "http",
    scheme: "bearer",
    description: "The same API key, as `Authorization: Bearer <key>`.",
  },
} as const;

const INFO = {
  title: "WA Gateway",
  version: "1.0.0",
  // No license file in the repository: all rights reserved until its owner picks one.
  license: { name: "All rights reserved", identifier: "LicenseRef-All-Rights-Reserved" },
  description: "A multi-session WhatsApp gateway. Every `/api/*` route requires the API key, " +
    "as `X-Api-Key` or `Authorization: Bearer`. Errors are `{error: {code, message, details?}}`.",
};

/**
 * Relative to the document, so it names whichever gateway serves it (behind a proxy's path
 * prefix too); generated clients take the real base URL anyway.
 */
const SERVERS = [{ url: "/", description: "The gateway that serves this document" }];

/** The OpenAPI document as served at `/openapi.json`. */
export type OpenApiDocument = ReturnType<OpenAPIHono["getOpenAPI31Document"]>;

/**
 * Generates the OpenAPI 3.1 document of every route registered with `app.openapi`, and marks
 * every `/api/*` operation as requiring the API key (with its 401 response) and every other one
 * as open (`security: []`).
 *
 * @example
 * ```ts
 * const spec = openApiDocument(app);
 * Object.keys(spec.paths ?? {}); // ["/health", "/ready", "/api/sessions", …]
 * ```
 */
export function openApiDocument(app: OpenAPIHono): OpenApiDocument {
  const spec = app.getOpenAPI31Document({ openapi: "3.1.0", info: INFO, servers: SERVERS });
  const components = spec.components ??= {};
  components.securitySchemes = { ...components.securitySchemes, ...SECURITY_SCHEMES };
  // Error is registered by every API route's error responses.
  const unauthorized = {
    description: "Missing or wrong API key",
    content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
  };
  for (const [path, item] of Object.entries(spec.paths ?? {})) {
    const isProtected = path.startsWith(PROTECTED_PREFIX);
    for (const operation of Object.values(item ?? {})) {
      if (typeof operation !== "object" || operation === null || !("responses" in operation)) {
        continue;
      }
      if (!isProtected) {
        operation.security = [];
        continue;
      }
      operation.security = [{ ApiKey: [] }, { Bearer: [] }];
      operation.responses = { ...operation.responses, 401: unauthorized };
    }
  }
  return spec;
}

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>WA Gateway API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/swagger-init.js"></script>
</body>
</html>
`;

// Relative URLs throughout, so the page also works behind a reverse proxy under a path prefix.
const init = `window.ui = SwaggerUIBundle({
  url: new URL("openapi.json", document.baseURI).href,
  dom_id: "#swagger-ui",
  deepLinking: true,
});
`;

/** The Swagger UI assets, by path below `DOCS_PATH`: their content and its type. */
const ASSETS: Record<string, { body: () => Promise<string>; type: string }> = {
  "/swagger-ui.css": {
    body: async () => (await import("./swagger_ui_assets.ts")).swaggerUiCss,
    type: "text/css; charset=utf-8",
  },
  "/swagger-ui-bundle.js": {
    body: async () => (await import("./swagger_ui_assets.ts")).swaggerUiBundle,
    type: "text/javascript; charset=utf-8",
  },
  "/swagger-init.js": { body: () => Promise.resolve(init), type: "text/javascript; charset=utf-8" },
};

/** Paths of every route `registerApiDocs` adds; they describe the API and are not part of it. */
export const DOCS_ROUTES: readonly string[] = [
  OPENAPI_PATH,
  DOCS_PATH,
  ...Object.keys(ASSETS).map((asset) => `${DOCS_PATH}${asset}`),
];

/**
 * Serves the OpenAPI document at `/openapi.json` and Swagger UI at `/docs`. Neither needs the
 * API key: they describe the API and hold no data. Register it after every API route, so the
 * document is complete (it is generated once, on the first request).
 *
 * @example
 * ```ts
 * registerSessionRoutes(app, manager);
 * registerApiDocs(app);
 * ```
 */
export function registerApiDocs(app: OpenAPIHono): void {
  let spec: OpenApiDocument | undefined;
  app.get(OPENAPI_PATH, (c) => c.json(spec ??= openApiDocument(app)));
  app.get(DOCS_PATH, (c) => c.html(page));
  for (const [path, asset] of Object.entries(ASSETS)) {
    app.get(`${DOCS_PATH}${path}`, async (c) => {
      const body = await asset.body();
      c.header("content-type", asset.type);
      c.header("cache-control", "public, max-age=3600");
      return c.body(body);
    });
  }
}
