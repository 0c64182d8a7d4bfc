import { strict as assert } from "node:assert";
import { openCoreApp, requestJson, TEST_API_KEY, writeFakeCreds } from "../support/core_app.ts";
import { withTempDir } from "../support/temp_dir.ts";

const WRONG_KEYS: [string, Record<string, string>][] = [
  ["no key", {}],
  ["an empty X-Api-Key", { "x-api-key": "" }],
  ["a wrong X-Api-Key", { "x-api-key": "not-the-key-but-long-enough" }],
  ["the key minus its last character", { "x-api-key": TEST_API_KEY.slice(0, -1) }],
  ["the key plus a character", { "x-api-key": `${TEST_API_KEY}0` }],
  ["the key in upper case", { "x-api-key": TEST_API_KEY.toUpperCase() }],
  ["a wrong bearer token", { authorization: "Bearer not-the-key-but-long-enough" }],
  ["the key as Basic credentials", { authorization: `Basic ${btoa(`x:${TEST_API_KEY}`)}` }],
  ["the key without a scheme", { authorization: TEST_API_KEY }],
  ["a wrong X-Api-Key beside the right bearer token", {
    "x-api-key": "not-the-key-but-long-enough",
    authorization: `Bearer ${TEST_API_KEY}`,
  }],
];

/** Every (method, path) the app serves under /api, from its own route table. */
function apiRoutes(app: Awaited<ReturnType<typeof openCoreApp>>["app"]): [string, string][] {
  const seen = new Set<string>();
  for (const route of app.routes) {
    if (route.method === "ALL" || !route.path.startsWith("/api/")) continue;
    seen.add(`${route.method} ${route.path}`);
  }
  return [...seen].map((entry) => entry.split(" ") as [string, string]);
}

Deno.test("every /api route rejects a missing or wrong key with 401, whatever the route", async () => {
  await withTempDir(async (dir) => {
    await writeFakeCreds(dir, "shop-1");
    const core = await openCoreApp(dir);
    try {
      const routes = apiRoutes(core.app);
      // The OpenAPI registry documents no route the table lacks.
      for (const definition of core.app.openAPIRegistry.definitions) {
        if (definition.type !== "route" || !definition.route.path.startsWith("/api/")) continue;
        const path = definition.route.path.replace(/\{(\w+)\}/g, ":$1");
        const method = definition.route.method.toUpperCase();
        assert.ok(
          routes.some(([m, p]) => m === method && p === path),
          `${method} ${path} is documented but not routed`,
        );
      }
      assert.ok(routes.length >= 10, `only ${routes.length} routes found`);

      const before = JSON.stringify(core.manager.list());
      for (const [method, pattern] of routes) {
        const path = pattern.replace(/:\w+/g, "shop-1");
        for (const [name, headers] of WRONG_KEYS) {
          const res = await core.app.request(path, {
            method,
            headers: { "content-type": "application/json", ...headers },
            body: ["POST", "PATCH"].includes(method) ? JSON.stringify({ name: "x" }) : undefined,
          });
          const label = `${method} ${path} with ${name}`;
          assert.equal(res.status, 401, label);
          assert.equal(res.headers.get("www-authenticate"), "Bearer", label);
          const body = await res.json();
          assert.equal(body.error.code, "unauthorized", label);
          assert.ok(!JSON.stringify(body).includes(TEST_API_KEY), label);
        }
      }
      assert.equal(JSON.stringify(core.manager.list()), before);
    } finally {
      await core.close();
    }
  });
});

Deno.test("the key is accepted as X-Api-Key or as a bearer token", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir);
    try {
      for (
        const headers of [
          { "x-api-key": TEST_API_KEY },
          { authorization: `Bearer ${TEST_API_KEY}` },
          { authorization: `bearer  ${TEST_API_KEY}` },
        ] as Record<string, string>[]
      ) {
        const res = await core.app.request("/api/sessions", { headers });
        assert.equal(res.status, 200, JSON.stringify(headers));
        await res.body?.cancel();
      }
      const none = await requestJson(core.app, "GET", "/api/sessions", undefined, { apiKey: null });
      assert.equal(none.status, 401);
      await none.body?.cancel();
      const wrong = await requestJson(core.app, "GET", "/api/sessions", undefined, {
        apiKey: "another-key-of-enough-length",
      });
      assert.equal(wrong.status, 401);
      await wrong.body?.cancel();
    } finally {
      await core.close();
    }
  });
});

Deno.test("an unknown /api path answers 401 without a key, so routes cannot be probed", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir);
    try {
      const anonymous = await core.app.request("/api/does-not-exist");
      assert.equal(anonymous.status, 401);
      await anonymous.body?.cancel();
      const known = await requestJson(core.app, "GET", "/api/does-not-exist");
      assert.equal(known.status, 404);
      await known.body?.cancel();
    } finally {
      await core.close();
    }
  });
});

Deno.test("/health and /ready stay open and reveal nothing sensitive", async () => {
  await withTempDir(async (dir) => {
    await writeFakeCreds(dir, "shop-1");
    const core = await openCoreApp(dir);
    try {
      const health = await core.app.request("/health");
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: "ok" });
      const ready = await core.app.request("/ready");
      assert.equal(ready.status, 200);
      const body = await ready.json();
      assert.deepEqual(Object.keys(body).sort(), [
        "ready",
        "restoreStarted",
        "settled",
        "storageWritable",
        "total",
      ]);
      assert.ok(!JSON.stringify(body).includes("shop-1"));
    } finally {
      await core.close();
    }
  });
});

Deno.test("CORS is off by default", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir);
    try {
      const preflight = await core.app.request("/api/sessions", {
        method: "OPTIONS",
        headers: { origin: "https://evil.example", "access-control-request-method": "GET" },
      });
      assert.equal(preflight.headers.get("access-control-allow-origin"), null);
      await preflight.body?.cancel();
      const res = await requestJson(core.app, "GET", "/api/sessions", undefined, {
        headers: { origin: "https://evil.example" },
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("access-control-allow-origin"), null);
      await res.body?.cancel();
    } finally {
      await core.close();
    }
  });
});

Deno.test("with CORS_ORIGINS, only those origins get CORS headers", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir, { corsOrigins: ["https://app.example.com"] });
    try {
      const preflight = await core.app.request("/api/sessions", {
        method: "OPTIONS",
        headers: {
          origin: "https://app.example.com",
          "access-control-request-method": "POST",
          "access-control-request-headers": "x-api-key, content-type",
        },
      });
      assert.equal(preflight.status, 204);
      assert.equal(
        preflight.headers.get("access-control-allow-origin"),
        "https://app.example.com",
      );
      assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /x-api-key/i);
      await preflight.body?.cancel();

      const other = await requestJson(core.app, "GET", "/api/sessions", undefined, {
        headers: { origin: "https://evil.example" },
      });
      assert.notEqual(other.headers.get("access-control-allow-origin"), "https://evil.example");
      assert.notEqual(other.headers.get("access-control-allow-origin"), "*");
      await other.body?.cancel();

      // CORS does not stand in for the key.
      const anonymous = await core.app.request("/api/sessions", {
        headers: { origin: "https://app.example.com" },
      });
      assert.equal(anonymous.status, 401);
      await anonymous.body?.cancel();
    } finally {
      await core.close();
    }
  });
});
