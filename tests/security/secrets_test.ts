import { strict as assert } from "node:assert";
import { loadConfig } from "../../src/config.ts";
import { startGateway } from "../../src/gateway.ts";
import { openPersistence } from "../../src/main.ts";
import { writeFakeCreds } from "../support/core_app.ts";
import { spawnGateway } from "../support/gateway_process.ts";
import { captureLogger } from "../support/persistence_fixtures.ts";
import { snapshotTree, withTempDir } from "../support/temp_dir.ts";

const processTest = { sanitizeOps: false, sanitizeResources: false };
const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const encodings = (bytes: Uint8Array) => [
  base64(bytes),
  base64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
  [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(""),
];

function assertNoSecret(texts: string[], secrets: string[], where: string): void {
  for (const text of texts) {
    for (const secret of secrets) {
      assert.ok(!text.includes(secret), `a secret appears in the ${where}: ${text.slice(0, 300)}`);
    }
  }
}

Deno.test("neither the API key nor the encryption key appears in logs or responses", async () => {
  await withTempDir(async (dir) => {
    const { logger, lines } = captureLogger();
    const encryptionKey = crypto.getRandomValues(new Uint8Array(32));
    const config = loadConfig({
      SESSIONS_DATA_PATH: dir,
      PORT: "0",
      SESSIONS_ENCRYPTION_KEY: base64(encryptionKey),
    });
    await writeFakeCreds(dir, "legacy"); // a plaintext folder: migration logs too
    const persistence = await openPersistence(config, logger);
    const gateway = await startGateway({ config, logger, persistence });
    const responses: string[] = [];
    let apiKey = "";
    try {
      apiKey = (await Deno.readTextFile(`${dir}/.api-key`)).trim();
      assert.ok(
        lines.some((line) => line.apiKeyFile === `${dir}/.api-key`),
        "the key file's path is logged",
      );
      const base = `http://${gateway.address.hostname}:${gateway.address.port}`;
      const send = async (method: string, path: string, headers: HeadersInit, body?: unknown) => {
        const res = await fetch(`${base}${path}`, {
          method,
          headers: { "content-type": "application/json", ...headers },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        responses.push(`${res.status} ${JSON.stringify([...res.headers])} ${await res.text()}`);
        return res.status;
      };
      const good = { "x-api-key": apiKey };
      assert.equal(await send("POST", "/api/sessions", good, { id: "shop-1" }), 201);
      assert.equal(await send("GET", "/api/sessions", good), 200);
      assert.equal(await send("GET", "/api/sessions/legacy", good), 200);
      assert.equal(await send("PATCH", "/api/sessions/shop-1", good, { name: "x" }), 200);
      assert.equal(await send("GET", "/api/sessions/shop-1/qr", good), 409);
      assert.equal(await send("POST", "/api/sessions", good, "{bad"), 400);
      assert.equal(await send("DELETE", "/api/sessions/shop-1", good), 204);
      assert.equal(await send("GET", "/api/sessions", { "x-api-key": `${apiKey}x` }), 401);
      assert.equal(await send("GET", "/api/sessions", { authorization: `Bearer ${apiKey}x` }), 401);
      assert.equal(await send("GET", "/ready", {}), 200);
    } finally {
      await gateway.shutdown();
    }
    const secrets = [apiKey, ...encodings(encryptionKey)];
    assertNoSecret(lines.map((line) => JSON.stringify(line)), secrets, "logs");
    assertNoSecret(responses, secrets, "responses");
    assert.ok(lines.length > 5, "the run logged something");
  });
});

Deno.test(
  "without API_KEY the gateway generates one, logs its path only, and keeps it across restarts",
  processTest,
  async () => {
    await withTempDir(async (dir) => {
      const first = await spawnGateway({ dataDir: dir, apiKey: null });
      let key: string;
      try {
        const path = `${dir}/.api-key`;
        key = (await Deno.readTextFile(path)).trim();
        assert.match(key, /^[A-Za-z0-9_-]{43}$/);
        assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
        assert.ok(first.logs.some((line) => line.apiKeyFile === path), JSON.stringify(first.logs));
        assertNoSecret([JSON.stringify(first.logs)], [key], "logs");

        const anonymous = await first.fetch("/api/sessions");
        assert.equal(anonymous.status, 401);
        await anonymous.body?.cancel();
        const authorized = await first.fetch("/api/sessions", { headers: { "x-api-key": key } });
        assert.equal(authorized.status, 200);
        await authorized.body?.cancel();
        const health = await first.fetch("/health");
        assert.equal(health.status, 200);
        await health.body?.cancel();
      } finally {
        first.kill("SIGTERM");
        await first.exited;
      }

      const second = await spawnGateway({ dataDir: dir, apiKey: null });
      try {
        assert.equal((await Deno.readTextFile(`${dir}/.api-key`)).trim(), key);
        const res = await second.fetch("/api/sessions", {
          headers: { authorization: `Bearer ${key}` },
        });
        assert.equal(res.status, 200);
        await res.body?.cancel();
        assertNoSecret([JSON.stringify(second.logs)], [key], "logs");
      } finally {
        second.kill("SIGTERM");
        await second.exited;
      }
    });
  },
);

Deno.test(
  "a bad key setting stops startup with exit 2 and never echoes the value",
  processTest,
  async () => {
    await withTempDir(async (dir) => {
      const shortKey = "Sh0rtK3y";
      const short = await spawnGateway({ dataDir: dir, apiKey: shortKey, noWait: true });
      assert.equal((await short.exited).code, 2);
      const output = JSON.stringify(short.logs);
      assert.match(output, /API_KEY/);
      assert.ok(!output.includes(shortKey), output);

      const both = await spawnGateway({
        dataDir: dir,
        env: { API_KEY_FILE: `${dir}/missing` },
        noWait: true,
      });
      assert.equal((await both.exited).code, 2);
      assert.match(JSON.stringify(both.logs), /either API_KEY or API_KEY_FILE/);

      // A key file that cannot be read stops startup before the data directory is touched.
      const dataDir = `${dir}/data`;
      const missing = await spawnGateway({
        dataDir,
        apiKey: null,
        env: { API_KEY_FILE: `${dataDir}/no-such-key` },
        noWait: true,
      });
      assert.equal((await missing.exited).code, 2);
      assert.match(JSON.stringify(missing.logs), /API_KEY_FILE: .*no-such-key does not exist/);
      await assert.rejects(() => Deno.stat(dataDir), Deno.errors.NotFound);
    });
  },
);

Deno.test(
  "the gateway refuses to start with a wrong encryption key and touches nothing",
  processTest,
  async () => {
    await withTempDir(async (dir) => {
      const right = base64(new Uint8Array(32).fill(1));
      const first = await spawnGateway({ dataDir: dir, env: { SESSIONS_ENCRYPTION_KEY: right } });
      try {
        const res = await first.fetch("/api/sessions", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ id: "shop-1" }),
        });
        assert.equal(res.status, 201);
        await res.body?.cancel();
      } finally {
        first.kill("SIGTERM");
        await first.exited;
      }
      await writeFakeCreds(dir, "legacy");
      const before = await snapshotTree(dir);

      const wrong = base64(new Uint8Array(32).fill(2));
      const second = await spawnGateway({
        dataDir: dir,
        env: { SESSIONS_ENCRYPTION_KEY: wrong },
        noWait: true,
      });
      assert.equal((await second.exited).code, 2);
      assert.ok(second.logs.some((line) => line.code === "encryption_key_mismatch"));
      assertNoSecret([JSON.stringify(second.logs)], [wrong, right], "logs");
      assert.deepEqual(await snapshotTree(dir), before);

      const none = await spawnGateway({ dataDir: dir, noWait: true });
      assert.equal((await none.exited).code, 2);
      assert.ok(none.logs.some((line) => line.code === "encryption_key_required"));
      assert.deepEqual(await snapshotTree(dir), before);
    });
  },
);
