/**
 * The runtime substitutions apply in a running gateway: in every connection worker and on the
 * main thread. The native XEdDSA check is the one the logins of linking and of a restore use.
 * These fail if a substitution stopped applying (a thread reports it inactive, or logins stop
 * reaching it).
 */
import { strict as assert } from "node:assert";
import { linkSession, runFakeGateway, withFakeServer } from "../support/fake_gateway.ts";
import { type GatewayProcess, stopGracefully } from "../support/gateway_process.ts";
import { parseExposition, sampleValue } from "../support/prometheus_text.ts";

const processTest = { sanitizeOps: false, sanitizeResources: false };

async function verifications(gateway: GatewayProcess): Promise<Record<string, number>> {
  const families = parseExposition(await (await fetch(`${gateway.url}/metrics`)).text());
  const count = (implementation: string) =>
    sampleValue(families, "wa_signature_verifications_total", { implementation }) ?? NaN;
  return { node_crypto: count("node_crypto"), curve25519_js: count("curve25519_js") };
}

/** Waits for the one start-up line saying every thread that runs connections checks natively. */
async function activeInEveryThread(gateway: GatewayProcess, threads: number): Promise<void> {
  const line = await gateway.waitForLog((line) =>
    /^XEdDSA signature checks/.test(String(line.msg))
  );
  assert.equal(line.level, 30, `info, not a warning: ${JSON.stringify(line)}`);
  assert.equal(line.threads, threads);
}

for (const workers of [2, 0]) {
  Deno.test(
    `CONNECTION_WORKERS=${workers}: the substitutions apply; logins check certificates natively`,
    processTest,
    () =>
      withFakeServer(async (fake, dataDir) => {
        const env = { CONNECTION_WORKERS: String(workers) };
        const ids = ["native-a", "native-b"]; // with two workers, one lands in each
        await runFakeGateway(fake, dataDir, env, async ({ gateway, client }) => {
          await activeInEveryThread(gateway, Math.max(workers, 1));
          for (const [i, id] of ids.entries()) {
            await linkSession(client, fake, id, `1555000410${i}`);
          }
          const counts = await verifications(gateway);
          // Each socket's Noise handshake checks two certificates: the QR one and the relogin.
          assert.ok(counts.node_crypto >= 4 * ids.length, JSON.stringify(counts));
          assert.equal(counts.curve25519_js, 0, "nothing fell back to JavaScript");
          await stopGracefully(gateway);
        });
        await runFakeGateway(fake, dataDir, env, async ({ gateway, client }) => {
          await activeInEveryThread(gateway, Math.max(workers, 1));
          for (const id of ids) await client.waitForStatus(id, "connected");
          const counts = await verifications(gateway);
          assert.ok(counts.node_crypto >= 2 * ids.length, JSON.stringify(counts));
          assert.equal(counts.curve25519_js, 0);
          await stopGracefully(gateway);
        });
      }),
  );
}
