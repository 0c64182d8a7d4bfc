/**
 * Where the gateway process runs its WhatsApp connections: in worker threads by default (the other
 * e2e tests), on the main thread when told to, or when the workers may not load their code.
 */
import { strict as assert } from "node:assert";
import { linkSession, startFakeGateway, withFakeServer } from "../support/fake_gateway.ts";
import { type GatewayProcess, stopGracefully } from "../support/gateway_process.ts";
import { parseExposition, sampleValue } from "../support/prometheus_text.ts";

const processTest = { sanitizeOps: false, sanitizeResources: false };

async function workersMetric(gateway: GatewayProcess): Promise<number | undefined> {
  const response = await fetch(`${gateway.url}/metrics`);
  return sampleValue(parseExposition(await response.text()), "wa_connection_workers");
}

Deno.test(
  "CONNECTION_WORKERS=2 starts two workers, and /metrics counts them",
  processTest,
  () =>
    withFakeServer(async (fake, dataDir) => {
      const { gateway, client } = await startFakeGateway(fake, dataDir, {
        CONNECTION_WORKERS: "2",
      });
      try {
        const ready = await gateway.waitForLog((line) => line.msg === "connection workers ready");
        assert.equal(ready.workers, 2);
        assert.equal(await workersMetric(gateway), 2);
        await linkSession(client, fake, "in-worker", "15550003000");
        await stopGracefully(gateway);
      } finally {
        await gateway.dispose();
      }
    }),
);

Deno.test(
  "without read access to src/ the workers cannot start, and sessions link on the main thread",
  processTest,
  () =>
    withFakeServer(async (fake, dataDir) => {
      const { gateway, client } = await startFakeGateway(fake, dataDir, {}, (flags) =>
        flags.map((flag) =>
          flag.startsWith("--allow-read=") ? `--allow-read=${dataDir}` : flag
        ));
      try {
        await gateway.waitForLog((line) =>
          String(line.msg).startsWith("connection workers could not start")
        );
        const session = await linkSession(client, fake, "main-thread", "15550003001");
        assert.equal(session.phoneNumber, "15550003001");
        assert.equal(await workersMetric(gateway), 0);
        await stopGracefully(gateway);
      } finally {
        await gateway.dispose();
      }
    }),
);

Deno.test(
  "CONNECTION_WORKERS=0 runs the connections on the main thread",
  processTest,
  () =>
    withFakeServer(async (fake, dataDir) => {
      const { gateway, client } = await startFakeGateway(fake, dataDir, {
        CONNECTION_WORKERS: "0",
      });
      try {
        const session = await linkSession(client, fake, "no-workers", "15550003002");
        assert.equal(session.phoneNumber, "15550003002");
        assert.ok(
          !gateway.logs.some((line) => /connection worker/.test(String(line.msg))),
          "no worker was started",
        );
        assert.equal(await workersMetric(gateway), 0);
        await stopGracefully(gateway);
      } finally {
        await gateway.dispose();
      }
    }),
);

Deno.test(
  "SIGTERM while sessions are still being restored exits 0, and every one comes back",
  processTest,
  () =>
    withFakeServer(async (fake, dataDir) => {
      const ids = Array.from({ length: 6 }, (_, i) => `drain-${i}`);
      const first = await startFakeGateway(fake, dataDir);
      try {
        for (const [i, id] of ids.entries()) {
          await linkSession(first.client, fake, id, `1555000400${i}`);
        }
        await stopGracefully(first.gateway);
      } finally {
        await first.gateway.dispose();
      }

      // Stopped as soon as it listens: restores are waiting for workers or logging in.
      const second = await startFakeGateway(fake, dataDir);
      try {
        await stopGracefully(second.gateway);
      } finally {
        await second.gateway.dispose();
      }
      assert.ok(fake.devices().every((device) => !device.removed), "nobody was logged out");

      const third = await startFakeGateway(fake, dataDir);
      try {
        for (const id of ids) await third.client.waitForStatus(id, "connected");
        await stopGracefully(third.gateway);
      } finally {
        await third.gateway.dispose();
      }
    }),
);
