import { strict as assert } from "node:assert";
import { openCoreApp, requestJson } from "../support/core_app.ts";
import { withTempDir } from "../support/temp_dir.ts";

/** `/api/sessions/:id` (Hono) → `/api/sessions/{id}` (OpenAPI). */
const toOpenApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

Deno.test("GET /openapi.json documents every registered route", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir);
    try {
      const res = await requestJson(core.app, "GET", "/openapi.json");
      assert.equal(res.status, 200);
      const spec = await res.json();
      assert.equal(spec.openapi, "3.1.0");
      const routes = core.app.routes
        .filter((r) => r.method !== "ALL" && r.path !== "/openapi.json")
        .map((r) => `${r.method.toLowerCase()} ${toOpenApiPath(r.path)}`);
      assert.ok(routes.length >= 10, routes.join());
      for (const route of new Set(routes)) {
        const [method, path] = route.split(" ");
        assert.ok(spec.paths[path]?.[method], `${route} is missing from the spec`);
      }
    } finally {
      await core.close();
    }
  });
});

Deno.test("responses match the documented schemas' required fields", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir);
    try {
      const spec = await (await requestJson(core.app, "GET", "/openapi.json")).json();
      const session = spec.components.schemas.Session;
      const created = await (await requestJson(core.app, "POST", "/api/sessions", { id: "a" }))
        .json();
      for (const field of session.required) assert.ok(field in created, `created.${field}`);
      assert.deepEqual(
        Object.keys(created).filter((k) => !(k in session.properties)),
        [],
        "no undocumented fields",
      );
      const missing = await (await requestJson(core.app, "GET", "/api/sessions/nope")).json();
      for (const field of spec.components.schemas.Error.required) assert.ok(field in missing);
    } finally {
      await core.close();
    }
  });
});
