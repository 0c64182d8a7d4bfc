import { strict as assert } from "node:assert";
import { FileSessionStore } from "../../src/persistence/file_session_store.ts";
import { type GatewayProcess, spawnGateway } from "../support/gateway_process.ts";
import { testLogger } from "../support/logger.ts";
import { withTempDir } from "../support/temp_dir.ts";
import { startWebhookReceiver } from "../support/webhook_receiver.ts";

const processTest = { sanitizeOps: false, sanitizeResources: false };
const SECRET = "drain-test-secret-0123456789";

async function post(gateway: GatewayProcess, path: string, body: unknown): Promise<Response> {
  return await gateway.fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

Deno.test(
  "SIGTERM drains an idle gateway: exit 0 within the deadline, its sessions kept, the lock released",
  processTest,
  async () => {
    await withTempDir(async (dir) => {
      const gateway = await spawnGateway({ dataDir: dir, env: { SHUTDOWN_TIMEOUT_MS: "5000" } });
      try {
        for (const id of ["one", "two", "three"]) {
          const res = await post(gateway, "/api/sessions", { id, name: `Session ${id}` });
          assert.equal(res.status, 201);
          await res.body?.cancel();
        }
        const started = Date.now();
        gateway.kill("SIGTERM");
        const status = await gateway.exited;
        assert.equal(status.code, 0, JSON.stringify(gateway.logs));
        assert.ok(Date.now() - started < 5000);
        assert.ok(gateway.logs.some((line) => line.msg === "drained; bye"));

        const metadata = JSON.parse(await Deno.readTextFile(`${dir}/sessions-metadata.json`));
        assert.deepEqual(Object.keys(metadata).sort(), ["one", "three", "two"]);
        // The lock was released: another store can open the directory.
        const store = new FileSessionStore({ dataDir: dir, logger: testLogger() });
        await store.open();
        await store.close();
      } finally {
        await gateway.dispose();
      }
    });
  },
);

Deno.test(
  "while it drains the gateway still answers: 503 shutting_down for the API, /ready 503",
  processTest,
  async () => {
    // A receiver that holds its answer keeps a webhook delivery in flight, which the drain
    // waits for (WEBHOOK_TIMEOUT_MS at most): a window to send requests in.
    const receiver = startWebhookReceiver({ secret: SECRET });
    receiver.holdAnswers(60_000);
    try {
      await withTempDir(async (dir) => {
        const gateway = await spawnGateway({
          dataDir: dir,
          env: {
            WEBHOOK_URL: receiver.url,
            WEBHOOK_SECRET: SECRET,
            WEBHOOK_TIMEOUT_MS: "4000",
            SHUTDOWN_TIMEOUT_MS: "10000",
            WA_WS_URL: "ws://127.0.0.1:9/ws",
          },
        });
        try {
          const created = await post(gateway, "/api/sessions", { id: "one" });
          assert.equal(created.status, 201);
          await created.body?.cancel();
          await receiver.waitForReceived(1);
          gateway.kill("SIGTERM");
          await gateway.waitForLog((line) => line.msg === "draining");

          const refused = await gateway.fetch("/api/sessions");
          assert.equal(refused.status, 503);
          assert.equal((await refused.json()).error.code, "shutting_down");
          const ready = await fetch(`${gateway.url}/ready`);
          assert.equal(ready.status, 503);
          await ready.body?.cancel();
          assert.equal((await gateway.exited).code, 0, JSON.stringify(gateway.logs));
        } finally {
          await gateway.dispose();
        }
      });
    } finally {
      await receiver.close();
    }
  },
);

Deno.test(
  "a second gateway on the same data directory exits with a clear error",
  processTest,
  async () => {
    await withTempDir(async (dir) => {
      const first = await spawnGateway({ dataDir: dir });
      try {
        const second = await spawnGateway({ dataDir: dir, noWait: true });
        const status = await second.exited;
        assert.equal(status.code, 1);
        assert.ok(
          second.logs.some((line) => /lock/i.test(String(line.msg))),
          JSON.stringify(second.logs),
        );
        const health = await fetch(`${first.url}/health`);
        assert.equal(health.status, 200);
        await health.body?.cancel();
      } finally {
        await first.dispose();
      }
    });
  },
);

Deno.test("invalid configuration stops startup with a clear message", processTest, async () => {
  await withTempDir(async (dir) => {
    const gateway = await spawnGateway({ dataDir: dir, env: { PORT: "not-a-port" }, noWait: true });
    const status = await gateway.exited;
    assert.equal(status.code, 2);
    assert.ok(
      gateway.logs.some((line) => String(line.msg).includes("PORT")),
      JSON.stringify(gateway.logs),
    );
  });
});
