/**
 * Where the gateway process runs its WhatsApp connections: in worker threads by default (the other
 * e2e tests), on the main thread when told to, or when the workers may not load their code.
 */
import { strict as assert } from "node:assert";
import { linkSession, runFakeGateway, withFakeServer } from "../support/fake_gateway.ts";
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
    withFakeServer((fake, dataDir) =>
      runFakeGateway(fake, dataDir, { CONNECTION_WORKERS: "2" }, async ({ gateway, client }) => {
        const ready = await gateway.waitForLog((line) => line.msg === "connection workers ready");
        assert.equal(ready.workers, 2);
        assert.equal(await workersMetric(gateway), 2);
        await linkSession(client, fake, "in-worker", "15550003000");
        await stopGracefully(gateway);
      })
    ),
);

Deno.test(
  "without read access to src/ the workers cannot start, and sessions link on the main thread",
  processTest,
  () =>
    withFakeServer((fake, dataDir) =>
      runFakeGateway(
        fake,
        dataDir,
        {},
        async ({ gateway, client }) => {
          await gateway.waitForLog((line) =>
            String(line.msg).startsWith("connection workers could not start")
          );
          const session = await linkSession(client, fake, "main-thread", "15550003001");
          assert.equal(session.phoneNumber, "15550003001");
          assert.equal(await workersMetric(gateway), 0);
          await stopGracefully(gateway);
        },
        (flags) =>
          flags.map((flag) => flag.startsWith("--allow-read=") ? `--allow-read=${dataDir}` : flag),
      )
    ),
);

Deno.test(
  "CONNECTION_WORKERS=0 runs the connections on the main thread",
  processTest,
  () =>
    withFakeServer((fake, dataDir) =>
      runFakeGateway(fake, dataDir, { CONNECTION_WORKERS: "0" }, async ({ gateway, client }) => {
        const session = await linkSession(client, fake, "no-workers", "15550003002");
        assert.equal(session.phoneNumber, "15550003002");
        assert.ok(
          !gateway.logs.some((line) => /connection worker/.test(String(line.msg))),
          "no worker was started",
        );
        assert.equal(await workersMetric(gateway), 0);
        await stopGracefully(gateway);
      })
    ),
);

Deno.test(
  "SIGTERM while sessions are still being restored exits 0, and every one comes back",
  processTest,
  () =>
    withFakeServer(async (fake, dataDir) => {
      const ids = Array.from({ length: 6 }, (_, i) => `drain-${i}`);
      await runFakeGateway(fake, dataDir, {}, async ({ gateway, client }) => {
        for (const [i, id] of ids.entries()) {
          await linkSession(client, fake, id, `1555000400${i}`);
        }
        await stopGracefully(gateway);
      });

      // Stopped as soon as it listens: restores are waiting for workers or logging in.
      await runFakeGateway(fake, dataDir, {}, ({ gateway }) => stopGracefully(gateway));
      assert.ok(fake.devices().every((device) => !device.removed), "nobody was logged out");

      await runFakeGateway(fake, dataDir, {}, async ({ gateway, client }) => {
        for (const id of ids) await client.waitForStatus(id, "connected");
        await stopGracefully(gateway);
      });
    }),
);
