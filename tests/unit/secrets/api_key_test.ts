import { strict as assert } from "node:assert";
import { ConfigError } from "../../../src/config.ts";
import { SessionIdSchema } from "../../../src/domain/session_id.ts";
import { FileSessionStore } from "../../../src/persistence/file_session_store.ts";
import { generateApiKey, resolveApiKey } from "../../../src/secrets/api_key.ts";
import { resolveEncryptionKey } from "../../../src/secrets/encryption_key.ts";
import { captureLogger, silentLogger } from "../../support/persistence_fixtures.ts";
import { withTempDir } from "../../support/temp_dir.ts";
import { singleOwnerFence } from "../../../src/domain/fence.ts";

Deno.test("resolveApiKey() prefers API_KEY and touches no file", async () => {
  await withTempDir(async (dir) => {
    const resolved = await resolveApiKey({ value: "from-the-environment" }, dir, silentLogger);
    assert.deepEqual(resolved, {
      key: "from-the-environment",
      source: "API_KEY",
      generated: false,
    });
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
  });
});

Deno.test("resolveApiKey() reads API_KEY_FILE, trimmed, and validates it", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/key`, "a-key-kept-in-a-file\n", { mode: 0o600 });
    const resolved = await resolveApiKey({ file: `${dir}/key` }, `${dir}/data`, silentLogger);
    assert.equal(resolved.key, "a-key-kept-in-a-file");
    assert.equal(resolved.source, "API_KEY_FILE");

    await Deno.writeTextFile(`${dir}/short`, "short\n");
    await assert.rejects(
      () => resolveApiKey({ file: `${dir}/short` }, dir, silentLogger),
      (error: unknown) => error instanceof ConfigError && !error.message.includes("short\n"),
    );
    await assert.rejects(
      () => resolveApiKey({ file: `${dir}/missing` }, dir, silentLogger),
      (error: unknown) => error instanceof ConfigError && /does not exist/.test(error.message),
    );
  });
});

Deno.test("resolveApiKey() warns when a key file is readable by others", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/key`, "a-key-kept-in-a-file\n");
    await Deno.chmod(`${dir}/key`, 0o644);
    const { logger, lines } = captureLogger();
    await resolveApiKey({ file: `${dir}/key` }, dir, logger);
    assert.ok(lines.some((line) => /readable by other users/.test(line.msg)));
  });
});

Deno.test("resolveApiKey() generates a key into <dataDir>/.api-key once, mode 0600", async () => {
  await withTempDir(async (dir) => {
    const { logger, lines } = captureLogger();
    const first = await resolveApiKey({}, `${dir}/data`, logger);
    assert.equal(first.generated, true);
    assert.equal(first.path, `${dir}/data/.api-key`);
    assert.equal(await Deno.readTextFile(first.path!), `${first.key}\n`);
    assert.equal((await Deno.stat(first.path!)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/data`)).mode! & 0o777, 0o700);
    assert.ok(lines.some((line) => line.apiKeyFile === first.path));
    assert.ok(!JSON.stringify(lines).includes(first.key));

    const second = await resolveApiKey({}, `${dir}/data`, silentLogger);
    assert.deepEqual(second, { ...first, generated: false });
  });
});

Deno.test("resolveApiKey() refuses a damaged or symlinked .api-key instead of replacing it", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/.api-key`, "tiny");
    await assert.rejects(() => resolveApiKey({}, dir, silentLogger), ConfigError);
    assert.equal(await Deno.readTextFile(`${dir}/.api-key`), "tiny");

    await Deno.remove(`${dir}/.api-key`);
    await Deno.writeTextFile(`${dir}/elsewhere`, "a-key-an-attacker-planted-here");
    await Deno.symlink(`${dir}/elsewhere`, `${dir}/.api-key`);
    await assert.rejects(() => resolveApiKey({}, dir, silentLogger), ConfigError);
  });
});

Deno.test("generateApiKey() makes 43 base64url characters from 32 random bytes", () => {
  const keys = new Set(Array.from({ length: 50 }, generateApiKey));
  assert.equal(keys.size, 50);
  for (const key of keys) assert.match(key, /^[A-Za-z0-9_-]{43}$/);
});

Deno.test("resolveEncryptionKey() reads the key from SESSIONS_ENCRYPTION_KEY_FILE", async () => {
  await withTempDir(async (dir) => {
    const bytes = new Uint8Array(32).fill(5);
    await Deno.writeTextFile(`${dir}/key`, `${btoa(String.fromCharCode(...bytes))}\n`);
    assert.deepEqual(
      await resolveEncryptionKey({ file: `${dir}/key` }, "SESSIONS_ENCRYPTION_KEY", silentLogger),
      bytes,
    );
    assert.equal(
      await resolveEncryptionKey({}, "SESSIONS_ENCRYPTION_KEY", silentLogger),
      undefined,
    );
    await Deno.writeTextFile(`${dir}/bad`, "not a key");
    await assert.rejects(
      () => resolveEncryptionKey({ file: `${dir}/bad` }, "SESSIONS_ENCRYPTION_KEY", silentLogger),
      (error: unknown) =>
        error instanceof ConfigError && error.message.startsWith(
          "Invalid configuration:\n  - SESSIONS_ENCRYPTION_KEY_FILE",
        ),
    );
  });
});

Deno.test("the generated key file never collides with a session named api-key", async () => {
  await withTempDir(async (dir) => {
    const { logger, lines } = captureLogger();
    const store = new FileSessionStore({ dataDir: dir, logger });
    await store.open();
    const { key } = await resolveApiKey({}, dir, logger);
    await store.auth(singleOwnerFence(SessionIdSchema.parse("api-key"))).write(
      new Map([["creds.json", new TextEncoder().encode("{}")]]),
    );
    await store.close();

    const reopened = new FileSessionStore({ dataDir: dir, logger });
    await reopened.open();
    try {
      assert.deepEqual(await reopened.listAuth(), ["api-key"]);
    } finally {
      await reopened.close();
    }
    assert.equal((await Deno.readTextFile(`${dir}/.api-key`)).trim(), key);
    assert.ok(!lines.some((line) => line.entry === ".api-key"), "the key file was scanned");
  });
});
