import assert from "node:assert/strict";
import { spawnGateway } from "../../support/gateway_process.ts";
import { withTempDir } from "../../support/persistence_fixtures.ts";
import { postgresTest } from "../../support/postgres_test.ts";

const processTest = { sanitizeOps: false, sanitizeResources: false };

/** A loopback port nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function startupFailure(databaseUrl: string, password: string) {
  return await withTempDir(async (dir) => {
    const gateway = await spawnGateway({
      dataDir: dir,
      env: { STORE: "postgres", DATABASE_URL: databaseUrl, NODE_URL: "http://127.0.0.1:1" },
      noWait: true,
    });
    const status = await gateway.exited;
    const output = JSON.stringify(gateway.logs);
    assert.equal(status.code, 2, output);
    assert.ok(!output.includes(password), `the password never shows: ${output}`);
    const fatal = gateway.logs.find((line) => line.level === 60);
    assert.ok(fatal, output);
    return String(fatal.msg);
  });
}

Deno.test(
  "an unreachable DATABASE_URL stops startup with exit 2, naming where, not the password",
  processTest,
  async () => {
    const port = closedPort();
    const message = await startupFailure(
      `postgres://app:hunter2-secret@127.0.0.1:${port}/wa`,
      "hunter2-secret",
    );
    assert.match(message, new RegExp(`app@127\\.0\\.0\\.1:${port}/wa`));
    assert.match(message, /connection refused/);
  },
);

postgresTest(
  "a wrong password or a missing database stops startup with exit 2 and says which",
  async (pg) => {
    const wrong = await startupFailure(
      pg.url.replace(pg.password, "not-the-password-42"),
      "not-the-password-42",
    );
    assert.match(wrong, /refused the credentials of user postgres/);
    const missing = await startupFailure(pg.urlOf("no_such_db"), pg.password);
    assert.match(missing, /the database no_such_db does not exist/);
  },
  processTest,
);

postgresTest("gateways on one database share the API key generated into it", async (pg) => {
  await withTempDir(async (root) => {
    const env = { STORE: "postgres", DATABASE_URL: pg.url, NODE_URL: "http://127.0.0.1:1" };
    const first = await spawnGateway({
      dataDir: `${root}/a`,
      env: { ...env, NODE_ID: "gw-a" },
      apiKey: null,
    });
    try {
      const second = await spawnGateway({
        dataDir: `${root}/b`,
        env: { ...env, NODE_ID: "gw-b" },
        apiKey: null,
      });
      try {
        const output = JSON.stringify([...first.logs, ...second.logs]);
        assert.ok(!output.includes(pg.password), "the password never shows");
        const listening = first.logs.find((line) => line.msg === "gateway listening");
        assert.equal(listening?.store, "postgres");
        assert.equal(listening?.apiKeySource, "database");
        const { default: postgres } = await import("postgres");
        const sql = postgres(pg.url, { max: 1 });
        const [row] = await sql<{ key: string }[]>`
          SELECT convert_from(value, 'UTF8') AS key FROM settings WHERE name = 'api_key'`;
        await sql.end();
        for (const gateway of [first, second]) {
          const response = await fetch(`${gateway.url}/api/sessions`, {
            headers: { "x-api-key": row.key },
          });
          assert.equal(response.status, 200);
          assert.deepEqual(await response.json(), { sessions: [] });
        }
      } finally {
        await second.dispose();
      }
    } finally {
      await first.dispose();
    }
  });
}, processTest);
