/**
 * Where the gateway process runs its WhatsApp connections: in worker threads by default (the other
 * e2e tests), on the main thread when told to, or when the workers may not load their code.
 */
import { strict as assert } from "node:assert";
import { linkSession, startFakeGateway, withFakeServer } from "../support/fake_gateway.ts";
import { stopGracefully } from "../support/gateway_process.ts";

const processTest = { sanitizeOps: false, sanitizeResources: false };

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
        await stopGracefully(gateway);
      } finally {
        await gateway.dispose();
      }
    }),
);
