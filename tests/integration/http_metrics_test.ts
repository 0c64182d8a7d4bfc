import { strict as assert } from "node:assert";
import { openCoreApp, requestJson } from "../support/core_app.ts";
import { withTempDir } from "../support/temp_dir.ts";

/** `name{labels} value` lines of a Prometheus text exposition, keyed by `name{labels}`. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

Deno.test("GET /metrics counts sessions by status, without a key and without names", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir);
    try {
      await requestJson(core.app, "POST", "/api/sessions", { id: "secret-shop-name" });
      await requestJson(core.app, "POST", "/api/sessions", { id: "other" });
      const res = await requestJson(core.app, "GET", "/metrics", undefined, { apiKey: null });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      assert.ok(!text.includes("secret-shop-name"));
      assert.match(text, /# TYPE wa_sessions gauge/);
      const samples = parseExposition(text);
      assert.equal(samples.get('wa_sessions{status="disconnected"}'), 2);
      assert.equal(samples.get('wa_sessions{status="connected"}'), 0);
      assert.ok(text.includes("# TYPE wa_session_reconnects_total counter"));
    } finally {
      await core.close();
    }
  });
});
