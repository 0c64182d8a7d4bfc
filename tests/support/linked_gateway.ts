import { linkSession, startFakeGateway, withFakeServer } from "./fake_gateway.ts";
import type { FakeWhatsApp } from "./fake_whatsapp/server.ts";
import type { GatewayClient } from "./gateway_client.ts";
import type { GatewayProcess } from "./gateway_process.ts";

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
  await withFakeServer(async (fake, dataDir) => {
    const { gateway, client } = await startFakeGateway(fake, dataDir, options.env);
    try {
      await linkSession(client, fake, sessionId, phoneNumber, options.pushName);
      await fn({ fake, gateway, client, dataDir });
    } finally {
      await gateway.dispose();
    }
  });
}
