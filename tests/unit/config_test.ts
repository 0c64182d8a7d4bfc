import { strict as assert } from "node:assert";
import { ConfigError, loadConfig } from "../../src/config.ts";

Deno.test("loadConfig() applies the documented defaults", () => {
  const config = loadConfig({});
  assert.equal(config.port, 3000);
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.dataDir, "sessions_data");
  assert.equal(config.logLevel, "info");
  assert.equal(config.logFormat, "json");
});

Deno.test("loadConfig() reads and coerces values", () => {
  const config = loadConfig({ PORT: "8080", HOST: "0.0.0.0", SESSIONS_DATA_PATH: "/data" });
  assert.equal(config.port, 8080);
  assert.equal(config.host, "0.0.0.0");
  assert.equal(config.dataDir, "/data");
});

Deno.test("loadConfig() treats empty strings as unset", () => {
  assert.equal(loadConfig({ PORT: "" }).port, 3000);
});

Deno.test("loadConfig() lists every invalid variable at once", () => {
  try {
    loadConfig({ PORT: "70000", LOG_LEVEL: "loud" });
    assert.fail("expected a ConfigError");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.problems.length, 2);
    assert.match(error.message, /PORT/);
    assert.match(error.message, /LOG_LEVEL/);
  }
});

Deno.test("loadConfig() rejects a reconnect ceiling below the first delay", () => {
  assert.throws(
    () => loadConfig({ RECONNECT_INITIAL_DELAY_MS: "5000", RECONNECT_MAX_DELAY_MS: "1000" }),
    (error: unknown) =>
      error instanceof ConfigError && error.problems[0].startsWith("RECONNECT_MAX_DELAY_MS"),
  );
});
