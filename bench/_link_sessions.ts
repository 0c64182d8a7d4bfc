/** Linked sessions for the restore benchmarks, made through a real gateway and the fake server. */
import type { FakeWhatsApp } from "../tests/support/fake_whatsapp/server.ts";
import { GatewayClient } from "../tests/support/gateway_client.ts";
import { spawnGateway, stopGracefully } from "../tests/support/gateway_process.ts";

/**
 * Links `count` sessions (`bench-0`, `bench-1`, …; 10 at a time) through one gateway of this
 * checkout on `dataDir` with `env`, then stops it cleanly.
 *
 * @example
 * ```ts
 * await linkSessions(fake, dataDir, 200, { WA_WS_URL: fake.wsUrl, WA_TEST_ROOT_PUBKEY: key });
 * ```
 */
export async function linkSessions(
  fake: FakeWhatsApp,
  dataDir: string,
  count: number,
  env: Record<string, string>,
): Promise<void> {
  const gateway = await spawnGateway({ dataDir, env });
  const client = new GatewayClient(gateway.url, gateway.apiKey);
  try {
    const ids = Array.from({ length: count }, (_, i) => `bench-${i}`);
    for (let start = 0; start < ids.length; start += 10) {
      await Promise.all(
        ids.slice(start, start + 10).map(async (id, j) => {
          await client.createSession(id);
          const qr = await client.waitForQr(id, 60_000);
          await fake.pairWithQr(qr, { phoneNumber: `1666${String(start + j).padStart(7, "0")}` });
          await client.waitForStatus(id, "connected", 120_000);
        }),
      );
    }
    await stopGracefully(gateway);
  } finally {
    await gateway.dispose();
  }
}
