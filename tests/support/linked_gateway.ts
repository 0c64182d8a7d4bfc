import { type FakeWhatsApp, startFakeWhatsApp } from "./fake_whatsapp/server.ts";
import { GatewayClient } from "./gateway_client.ts";
import { type GatewayProcess, spawnGateway } from "./gateway_process.ts";
import { withTempDir } from "./temp_dir.ts";

/** A gateway child process with one session linked to a phone on a fake WhatsApp server. */
export interface LinkedGateway {
  fake: FakeWhatsApp;
  gateway: GatewayProcess;
  client: GatewayClient;
  dataDir: string;
}

/** Options of {@linkcode withLinkedGateway}. */
export interface LinkedGatewayOptions {
  /** Extra environment of the gateway process (webhooks, for instance). */
  env?: Record<string, string>;
  /** The linked phone's display name. */
  pushName?: string;
}

/**
 * Starts a fake server and a gateway on a fresh data directory, links session `sessionId` as
 * `phoneNumber`, runs `fn`, and tears everything down.
 *
 * @example
 * ```ts
 * await withLinkedGateway("shop-1", "15550001111", async ({ client, fake }) => { ... });
 * ```
 */
export async function withLinkedGateway(
  sessionId: string,
  phoneNumber: string,
  fn: (linked: LinkedGateway) => Promise<void>,
  options: LinkedGatewayOptions = {},
): Promise<void> {
  const fake = await startFakeWhatsApp();
  try {
    await withTempDir(async (dataDir) => {
      const gateway = await spawnGateway({
        dataDir,
        env: {
          WA_WS_URL: fake.wsUrl,
          WA_TEST_ROOT_PUBKEY: fake.rootPublicKeyBase64,
          ...options.env,
        },
      });
      const client = new GatewayClient(gateway.url, gateway.apiKey);
      try {
        await client.createSession(sessionId);
        await fake.pairWithQr(await client.waitForQr(sessionId), {
          phoneNumber,
          pushName: options.pushName,
        });
        await client.waitForStatus(sessionId, "connected");
        await fn({ fake, gateway, client, dataDir });
      } finally {
        await gateway.dispose();
      }
    });
  } finally {
    await fake.close();
  }
}
