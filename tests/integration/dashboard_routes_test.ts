import { strict as assert } from "node:assert";
import { DASHBOARD_ROUTES } from "../../src/http/dashboard/dashboard_routes.ts";
import { openCoreApp, requestJson } from "../support/core_app.ts";
import { withTempDir } from "../support/temp_dir.ts";

Deno.test("GET / serves the dashboard page without a key, locked down by its headers", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir);
    try {
      const response = await core.app.request("/");
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
      const csp = response.headers.get("content-security-policy") ?? "";
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src 'self'(;|$)/, "no inline or remote scripts");
      assert.match(csp, /frame-ancestors 'none'/);
      assert.match(csp, /require-trusted-types-for 'script'/);
      assert.equal(response.headers.get("x-frame-options"), "DENY");
      assert.equal(response.headers.get("referrer-policy"), "no-referrer");
      const html = await response.text();
      assert.match(html, /<script type="module" src="\/dashboard\/dashboard.js"><\/script>/);
      assert.doesNotMatch(html, /<script>/, "no inline script");
    } finally {
      await core.close();
    }
  });
});

Deno.test("the dashboard's assets are served with their types; the page holds no data", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir);
    try {
      const created = await requestJson(core.app, "POST", "/api/sessions", {
        id: "shop-1",
        name: "Secret name",
      });
      assert.equal(created.status, 201);
      const types: Record<string, RegExp> = {
        "/": /^text\/html/,
        "/dashboard/dashboard.js": /^text\/javascript/,
        "/dashboard/api.js": /^text\/javascript/,
        "/dashboard/session_detail.js": /^text\/javascript/,
        "/dashboard/event_log.js": /^text\/javascript/,
        "/dashboard/dead_letters.js": /^text\/javascript/,
        "/dashboard/nodes.js": /^text\/javascript/,
        "/dashboard/dashboard.css": /^text\/css/,
        "/dashboard/favicon.svg": /^image\/svg\+xml/,
      };
      assert.deepEqual([...DASHBOARD_ROUTES].sort(), Object.keys(types).sort());
      for (const [path, type] of Object.entries(types)) {
        const response = await core.app.request(path);
        assert.equal(response.status, 200, path);
        assert.match(response.headers.get("content-type") ?? "", type, path);
        assert.equal(response.headers.get("x-content-type-options"), "nosniff", path);
        const body = await response.text();
        assert.ok(!body.includes("Secret name") && !body.includes("kiosk-7"), `${path} has data`);
      }
      // Everything the page shows comes from the API, which still wants the key.
      const anonymous = await requestJson(core.app, "GET", "/api/sessions", undefined, {
        apiKey: null,
      });
      assert.equal(anonymous.status, 401);
      await anonymous.body?.cancel();
      const post = await core.app.request("/", { method: "POST" });
      assert.equal(post.status, 404);
      await post.body?.cancel();
    } finally {
      await core.close();
    }
  });
});
