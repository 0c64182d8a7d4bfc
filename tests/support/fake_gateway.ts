/** A gateway child process wired to the fake WhatsApp server, and linking a session through it. */
import type { FakeWhatsApp } from "./fake_whatsapp/server.ts";
import { GatewayClient, type SessionView } from "./gateway_client.ts";
import { type GatewayProcess, spawnGateway } from "./gateway_process.ts";

/**
 * Starts the gateway on `dataDir` against the fake server, with fast reconnects.
 *
 * @example
 * ```ts
 * const { gateway, client } = await startFakeGateway(fake, dataDir);
 * ```
 */
export async function startFakeGateway(
  fake: FakeWhatsApp,
  dataDir: string,
): Promise<{ gateway: GatewayProcess; client: GatewayClient }> {
  const gateway = await spawnGateway({
    dataDir,
    env: {
      WA_WS_URL: fake.wsUrl,
      WA_TEST_ROOT_PUBKEY: fake.rootPublicKeyBase64,
      RECONNECT_INITIAL_DELAY_MS: "50",
      RECONNECT_MAX_DELAY_MS: "500",
      SHUTDOWN_TIMEOUT_MS: "8000",
    },
  });
  return { gateway, client: new GatewayClient(gateway.url, gateway.apiKey) };
}

/**
 * Creates a session over REST and links it by scanning its QR code with a simulated phone.
 *
 * @example
 * ```ts
 * await linkSession(client, fake, "shop-1", "15550001111");
 * ```
 */
export async function linkSession(
  client: GatewayClient,
  fake: FakeWhatsApp,
  id: string,
  phoneNumber: string,
): Promise<SessionView> {
  await client.createSession(id, `Session ${id}`);
  const qr = await client.waitForQr(id);
  await fake.pairWithQr(qr, { phoneNumber, pushName: `Phone ${id}` });
  return await client.waitForStatus(id, "connected");
}
