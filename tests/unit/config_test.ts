import { strict as assert } from "node:assert";
import {
  ConfigError,
  loadConfig,
  loadKeyRotationConfig,
  parseEncryptionKey,
} from "../../src/config.ts";

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

Deno.test("CONNECTION_WORKERS: a core each but the main thread's (1 to 8) by default, 0 to 64 when set", () => {
  const cores = navigator.hardwareConcurrency;
  assert.equal(
    loadConfig({}).whatsapp.connectionWorkers,
    Math.max(1, Math.min(cores - 1, 8)),
  );
  assert.equal(loadConfig({ CONNECTION_WORKERS: "0" }).whatsapp.connectionWorkers, 0);
  assert.equal(loadConfig({ CONNECTION_WORKERS: "3" }).whatsapp.connectionWorkers, 3);
  for (const bad of ["-1", "65", "two", "1.5"]) {
    assert.throws(
      () => loadConfig({ CONNECTION_WORKERS: bad }),
      (error: unknown) =>
        error instanceof ConfigError && error.problems[0].startsWith("CONNECTION_WORKERS"),
      bad,
    );
  }
});

Deno.test("WEBHOOK_ALLOWED_HOSTS: host patterns, checked against WEBHOOK_URL", () => {
  const config = loadConfig({ WEBHOOK_ALLOWED_HOSTS: " Hooks.Example.com, *.partner.test " });
  assert.deepEqual(config.webhooks.allowedHosts, ["hooks.example.com", "*.partner.test"]);
  assert.deepEqual(loadConfig({}).webhooks.allowedHosts, []);
  assert.throws(
    () => loadConfig({ WEBHOOK_ALLOWED_HOSTS: "https://hooks.example.com/x" }),
    (error: unknown) =>
      error instanceof ConfigError && error.problems[0].startsWith("WEBHOOK_ALLOWED_HOSTS"),
  );
  assert.throws(
    () =>
      loadConfig({
        WEBHOOK_URL: "http://10.0.0.1/hook",
        WEBHOOK_SECRET: "global-secret-0123456789",
        WEBHOOK_ALLOWED_HOSTS: "hooks.example.com",
      }),
    (error: unknown) =>
      error instanceof ConfigError && /WEBHOOK_URL: host '10\.0\.0\.1'/.test(error.message),
  );
});

Deno.test("loadConfig() rejects a reconnect ceiling below the first delay", () => {
  assert.throws(
    () => loadConfig({ RECONNECT_INITIAL_DELAY_MS: "5000", RECONNECT_MAX_DELAY_MS: "1000" }),
    (error: unknown) =>
      error instanceof ConfigError && error.problems[0].startsWith("RECONNECT_MAX_DELAY_MS"),
  );
});

Deno.test("loadConfig() reads the key settings and CORS origins", () => {
  const key = btoa("k".repeat(32));
  const config = loadConfig({
    API_KEY: "a-long-enough-api-key",
    SESSIONS_ENCRYPTION_KEY: key,
    CORS_ORIGINS: "https://app.example.com, http://localhost:5173",
  });
  assert.deepEqual(config.apiKey, { value: "a-long-enough-api-key", file: undefined });
  assert.deepEqual(config.encryptionKey.value, new TextEncoder().encode("k".repeat(32)));
  assert.deepEqual(config.corsOrigins, ["https://app.example.com", "http://localhost:5173"]);
  assert.deepEqual(loadConfig({}).corsOrigins, []);
  assert.deepEqual(loadConfig({}).apiKey, { value: undefined, file: undefined });
});

Deno.test("loadConfig() rejects weak or doubly set keys without echoing them", () => {
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.message;
    }
    assert.fail(`accepted ${JSON.stringify(env)}`);
  };
  const short = problems({ API_KEY: "Sh0rtK3y" });
  assert.match(short, /API_KEY: must be 16-512/);
  assert.ok(!short.includes("Sh0rtK3y"));
  assert.match(problems({ API_KEY: "has spaces in the middle" }), /API_KEY/);
  assert.match(
    problems({ API_KEY: "a-long-enough-api-key", API_KEY_FILE: "/run/secrets/key" }),
    /either API_KEY or API_KEY_FILE/,
  );
  const badKey = problems({ SESSIONS_ENCRYPTION_KEY: btoa("too short") });
  assert.match(badKey, /SESSIONS_ENCRYPTION_KEY: must be the base64 of exactly 32 bytes/);
  assert.ok(!badKey.includes(btoa("too short")));
  assert.match(
    problems({ SESSIONS_ENCRYPTION_KEY: btoa("k".repeat(32)), SESSIONS_ENCRYPTION_KEY_FILE: "f" }),
    /either SESSIONS_ENCRYPTION_KEY or SESSIONS_ENCRYPTION_KEY_FILE/,
  );
  assert.match(problems({ CORS_ORIGINS: "https://app.example.com/path" }), /CORS_ORIGINS/);
  assert.match(problems({ CORS_ORIGINS: "*" }), /CORS_ORIGINS/);
});

Deno.test("parseEncryptionKey() takes base64 or base64url of exactly 32 bytes", () => {
  const bytes = new Uint8Array(32).map((_, i) => i * 8);
  const standard = btoa(String.fromCharCode(...bytes));
  const url = standard.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  assert.deepEqual(parseEncryptionKey(standard), bytes);
  assert.deepEqual(parseEncryptionKey(`${url}\n`), bytes);
  assert.equal(parseEncryptionKey(btoa("x".repeat(31))), undefined);
  assert.equal(parseEncryptionKey("not base64!"), undefined);
});

Deno.test("loadKeyRotationConfig() reads the old key beside the gateway's configuration", () => {
  const oldKey = btoa("o".repeat(32));
  const rotation = loadKeyRotationConfig({
    SESSIONS_DATA_PATH: "/data",
    OLD_SESSIONS_ENCRYPTION_KEY: oldKey,
    SESSIONS_ENCRYPTION_KEY_FILE: "/run/secrets/new",
  });
  assert.equal(rotation.config.dataDir, "/data");
  assert.deepEqual(rotation.oldKey.value, new TextEncoder().encode("o".repeat(32)));
  assert.equal(rotation.config.encryptionKey.file, "/run/secrets/new");
  assert.throws(
    () =>
      loadKeyRotationConfig({
        OLD_SESSIONS_ENCRYPTION_KEY: oldKey,
        OLD_SESSIONS_ENCRYPTION_KEY_FILE: "/old",
      }),
    ConfigError,
  );
});

Deno.test("cluster settings: NODE_ID defaults to the host name, lease and forward timings have bounds", () => {
  const defaults = loadConfig({}).cluster;
  assert.match(defaults.nodeId, /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
  assert.equal(defaults.nodeUrl, undefined);
  assert.equal(defaults.leaseTtlMs, 20_000);
  assert.equal(defaults.forwardTimeoutMs, 10_000);
  const set = loadConfig({
    NODE_ID: "gw-2.eu",
    NODE_URL: "http://10.0.0.2:3000",
    LEASE_TTL_MS: "6000",
    FORWARD_TIMEOUT_MS: "2500",
  }).cluster;
  assert.deepEqual(set, {
    nodeId: "gw-2.eu",
    nodeUrl: "http://10.0.0.2:3000",
    leaseTtlMs: 6000,
    forwardTimeoutMs: 2500,
  });
  for (
    const [name, bad] of [
      ["NODE_ID", "../x"],
      ["NODE_ID", "a b"],
      ["NODE_URL", "ftp://x"],
      ["LEASE_TTL_MS", "1000"],
      ["FORWARD_TIMEOUT_MS", "0"],
    ]
  ) {
    assert.throws(
      () => loadConfig({ [name]: bad }),
      (error: unknown) => error instanceof ConfigError && error.problems[0].startsWith(name),
      `${name}=${bad}`,
    );
  }
});

const NODE_URL = "http://10.0.0.1:3000";

Deno.test("STORE: file by default, postgres with a DATABASE_URL and a NODE_URL", () => {
  assert.deepEqual(loadConfig({}).store, { kind: "file" });
  const url = "postgres://app:pw@db.internal:5432/wa";
  assert.deepEqual(loadConfig({ STORE: "postgres", DATABASE_URL: url, NODE_URL }).store, {
    kind: "postgres",
    databaseUrl: url,
  });
  assert.equal(
    (loadConfig({ STORE: "postgres", DATABASE_URL: "postgresql://db/wa", NODE_URL }).store as {
      databaseUrl: string;
    }).databaseUrl,
    "postgresql://db/wa",
  );
});

Deno.test("STORE/DATABASE_URL problems are listed without echoing the URL", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ STORE: "postgres" }, /DATABASE_URL: required when STORE=postgres/],
    [{ STORE: "mysql" }, /STORE/],
    [{ STORE: "postgres", DATABASE_URL: "mysql://u:s3cr3t-pw@db/wa" }, /DATABASE_URL: must be/],
    [{ STORE: "postgres", DATABASE_URL: "not a url s3cr3t-pw" }, /DATABASE_URL: must be/],
    [{ DATABASE_URL: "postgres://u:s3cr3t-pw@db/wa" }, /STORE is file/],
    [{ STORE: "postgres", DATABASE_URL: "postgres://u:s3cr3t-pw@db/wa" }, /NODE_URL: required/],
  ];
  for (const [env, expected] of cases) {
    assert.throws(() => loadConfig(env), (error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, expected);
      assert.ok(!error.message.includes("s3cr3t-pw"), error.message);
      return true;
    });
  }
});
