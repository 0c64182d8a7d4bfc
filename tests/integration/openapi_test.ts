import assert from "node:assert/strict";
import { DOCS_ROUTES, type OpenApiDocument } from "../../src/http/api_docs.ts";
import { DASHBOARD_ROUTES } from "../../src/http/dashboard/dashboard_routes.ts";
import { GatewayMetrics } from "../../src/observability/gateway_metrics.ts";
import { type CoreApp, openCoreApp, requestJson } from "../support/core_app.ts";
import { resolveRef, validate } from "../support/json_schema.ts";
import { withTempDir } from "../support/temp_dir.ts";

async function withApp(fn: (core: CoreApp, spec: OpenApiDocument) => Promise<void>) {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir, { metrics: new GatewayMetrics() });
    try {
      const response = await core.app.request("/openapi.json");
      assert.equal(response.status, 200);
      await fn(core, await response.json());
    } finally {
      await core.close();
    }
  });
}

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

function specOperations(spec: OpenApiDocument): Set<string> {
  const operations = new Set<string>();
  for (const [path, item] of Object.entries(spec.paths ?? {})) {
    for (const method of METHODS) {
      if (item?.[method]) operations.add(`${method.toUpperCase()} ${path}`);
    }
  }
  return operations;
}

/** Checks a response against the schema the spec declares for its status and content type. */
async function assertMatchesSpec(
  spec: OpenApiDocument,
  path: string,
  method: string,
  response: Response,
): Promise<unknown> {
  const operation = spec.paths?.[path]?.[method as (typeof METHODS)[number]];
  assert.ok(operation, `${method} ${path} is in the spec`);
  let declared = operation.responses?.[String(response.status)];
  assert.ok(declared, `${method} ${path} declares status ${response.status}`);
  if ("$ref" in declared) declared = resolveRef(declared.$ref, spec) as typeof declared;
  if (!("description" in declared)) throw new Error("unexpected response object");
  if (response.status === 204) {
    assert.equal(declared.content, undefined);
    assert.equal(await response.text(), "");
    return undefined;
  }
  const type = response.headers.get("content-type")!.split(";")[0];
  const media = declared.content?.[type];
  assert.ok(media?.schema, `${method} ${path} ${response.status} declares ${type}`);
  const body = await response.json();
  assert.deepEqual(validate(media.schema, body, { root: spec }), [], JSON.stringify(body));
  return body;
}

Deno.test("GET /openapi.json serves an OpenAPI 3.1 document without an API key", async () => {
  await withApp((_core, spec) => {
    assert.equal(spec.openapi, "3.1.0");
    assert.equal(spec.info.title, "WA Gateway");
    assert.ok(spec.components?.schemas?.Session);
    return Promise.resolve();
  });
});

Deno.test("every route registered on the app appears in the spec, and nothing else", async () => {
  await withApp((core, spec) => {
    const registered = new Set(
      core.app.routes
        // Middleware is registered for "ALL"; the documentation routes describe the API, and
        // the dashboard is a client of it.
        .filter((route) =>
          route.method !== "ALL" && !DOCS_ROUTES.includes(route.path) &&
          !DASHBOARD_ROUTES.includes(route.path)
        )
        .map((route) => `${route.method} ${route.path.replace(/:(\w+)/g, "{$1}")}`),
    );
    assert.ok(registered.has("POST /api/sessions"));
    assert.ok(registered.has("GET /metrics"));
    assert.deepEqual([...specOperations(spec)].sort(), [...registered].sort());
    return Promise.resolve();
  });
});

Deno.test("every $ref in the spec resolves", async () => {
  await withApp((_core, spec) => {
    const refs: string[] = [];
    const walk = (node: unknown) => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (typeof node === "object" && node !== null) {
        for (const [key, value] of Object.entries(node)) {
          if (key === "$ref" && typeof value === "string") refs.push(value);
          else walk(value);
        }
      }
    };
    walk(spec);
    assert.ok(refs.length > 0);
    for (const ref of refs) resolveRef(ref, spec);
    return Promise.resolve();
  });
});

Deno.test("the spec requires the API key on /api routes only, with a 401 response; the rest are open", async () => {
  await withApp((_core, spec) => {
    assert.deepEqual(Object.keys(spec.components?.securitySchemes ?? {}).sort(), [
      "ApiKey",
      "Bearer",
    ]);
    for (const operation of specOperations(spec)) {
      const [method, path] = operation.split(" ");
      const op = spec.paths![path]![method.toLowerCase() as "get"]!;
      if (path.startsWith("/api/")) {
        assert.deepEqual(op.security, [{ ApiKey: [] }, { Bearer: [] }], operation);
        assert.ok(op.responses?.["401"], `${operation} declares 401`);
      } else {
        assert.deepEqual(op.security, [], operation);
      }
      assert.match(op.operationId ?? "", /^[a-z][A-Za-z]+$/, `${operation} has an operationId`);
    }
    return Promise.resolve();
  });
});

Deno.test("responses of the session routes validate against the spec's schemas", async () => {
  await withApp(async ({ app }, spec) => {
    /** Sends a request and checks the response against `specPath`'s operation; returns status and body. */
    const call = async (method: string, specPath: string, path: string, body?: unknown) => {
      const response = await requestJson(app, method, path, body);
      const status = response.status;
      return {
        status,
        body: await assertMatchesSpec(spec, specPath, method.toLowerCase(), response),
      };
    };
    const created = await call("POST", "/api/sessions", "/api/sessions", { id: "shop-1" });
    assert.equal(created.status, 201);
    const session = spec.components!.schemas!.Session as { properties?: object };
    const documented = Object.keys(session.properties ?? {});
    assert.deepEqual(
      Object.keys(created.body as object).filter((key) => !documented.includes(key)),
      [],
      "no undocumented fields",
    );
    assert.equal(
      (await call("POST", "/api/sessions", "/api/sessions", { id: "shop-1" })).status,
      409,
    );
    assert.equal((await call("POST", "/api/sessions", "/api/sessions", { id: "a b" })).status, 400);

    const list = await call("GET", "/api/sessions", "/api/sessions");
    assert.equal((list.body as { sessions: unknown[] }).sessions.length, 1);
    const one = await call("GET", "/api/sessions/{id}", "/api/sessions/shop-1");
    assert.equal((one.body as { id: string }).id, "shop-1");
    assert.equal((await call("GET", "/api/sessions/{id}", "/api/sessions/nope")).status, 404);

    const renamed = await call("PATCH", "/api/sessions/{id}", "/api/sessions/shop-1", {
      name: "Back office",
    });
    assert.equal(renamed.status, 200);
    assert.equal(
      (await call("POST", "/api/sessions/{id}/stop", "/api/sessions/shop-1/stop")).status,
      200,
    );
    assert.equal(
      (await call("GET", "/api/sessions/{id}/qr", "/api/sessions/shop-1/qr")).status,
      409,
    );
    assert.equal((await call("GET", "/health", "/health")).status, 200);
    await call("GET", "/ready", "/ready");
    assert.equal((await call("DELETE", "/api/sessions/{id}", "/api/sessions/shop-1")).status, 204);
  });
});

Deno.test("a response that breaks the schema is caught by the validator", async () => {
  await withApp((_core, spec) => {
    const session = spec.components!.schemas!.Session;
    const errors = validate(session, { id: "x", status: "sleeping" }, { root: spec });
    assert.ok(errors.some((e) => e.includes("missing required createdAt")), errors.join("\n"));
    assert.ok(errors.some((e) => e.includes("$.status")), errors.join("\n"));
    return Promise.resolve();
  });
});

Deno.test("GET /docs serves Swagger UI and every asset it loads, from the gateway itself", async () => {
  await withApp(async ({ app }) => {
    const page = await app.request("/docs");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type")!, /^text\/html/);
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(assets.sort(), [
      "docs/swagger-init.js",
      "docs/swagger-ui-bundle.js",
      "docs/swagger-ui.css",
    ]);
    for (const asset of assets) {
      // Relative to the page, as a browser resolves it.
      const url = new URL(asset, "http://gateway/docs");
      const response = await app.request(url.pathname);
      assert.equal(response.status, 200, asset);
      const body = await response.text();
      assert.ok(body.length > 0, asset);
      assert.match(response.headers.get("content-type")!, /^text\/(css|javascript)/);
    }
    const bundle = await (await app.request("/docs/swagger-ui-bundle.js")).text();
    assert.ok(bundle.includes("SwaggerUIBundle"));
    const init = await (await app.request("/docs/swagger-init.js")).text();
    assert.ok(init.includes('"openapi.json"'));
  });
});
