/** A gateway child process wired to the fake WhatsApp server, and linking a session through it. */
import { type FakeWhatsApp, startFakeWhatsApp } from "./fake_whatsapp/server.ts";
import { GatewayClient, type SessionView } from "./gateway_client.ts";
import { type GatewayProcess, spawnGateway, type SpawnOptions } from "./gateway_process.ts";
import { withTempDir } from "./temp_dir.ts";

/**
 * Runs `fn` with a fresh fake WhatsApp server and an empty data directory, both removed after.
 *
 * @example
 * ```ts
 * await withFakeServer(async (fake, dataDir) => {
 *   const { gateway, client } = await startFakeGateway(fake, dataDir);
 *   try { ... } finally { await gateway.dispose(); }
 * });
 * ```
 */
export async function withFakeServer<T>(
  fn: (fake: FakeWhatsApp, dataDir: string) => Promise<T>,
): Promise<T> {
  const fake = await startFakeWhatsApp();
  try {
    return await withTempDir((dataDir) => fn(fake, dataDir));
  } finally {
    await fake.close();
  }
}

/**
 * Starts the gateway on `dataDir` against the fake server, with fast reconnects and any extra
 * environment (webhooks, for instance) or changed `deno run` flags.
 *
 * @example
 * ```ts
 * const { gateway, client } = await startFakeGateway(fake, dataDir);
 * ```
 */
export async function startFakeGateway(
  fake: FakeWhatsApp,
  dataDir: string,
  env: Record<string, string> = {},
  flags?: SpawnOptions["flags"],
): Promise<{ gateway: GatewayProcess; client: GatewayClient }> {
  const gateway = await spawnGateway({
    dataDir,
    flags,
    env: {
      WA_WS_URL: fake.wsUrl,
      WA_TEST_ROOT_PUBKEY: fake.rootPublicKeyBase64,
      // The fake's media server: its CA trusted by this process only, and downloads sent to it.
      DENO_CERT: fake.media.caCertFile,
      WA_MEDIA_HOST: fake.media.host,
      RECONNECT_INITIAL_DELAY_MS: "50",
      RECONNECT_MAX_DELAY_MS: "500",
      // Tests check that a drain finishes, not how fast: on a loaded machine closing sockets and
      // checkpointing every journal took longer than 8 s (exit 1 instead of 0).
      SHUTDOWN_TIMEOUT_MS: "60000",
      ...env,
    },
  });
  return { gateway, client: new GatewayClient(gateway.url, gateway.apiKey) };
}

/**
 * Runs `fn` with a gateway started as `startFakeGateway` does; the process is disposed of after
 * (SIGKILL if `fn` left it running).
 *
 * @example
 * ```ts
 * await runFakeGateway(fake, dataDir, {}, async ({ gateway, client }) => { ... });
 * ```
 */
export async function runFakeGateway(
  fake: FakeWhatsApp,
  dataDir: string,
  env: Record<string, string>,
  fn: (started: { gateway: GatewayProcess; client: GatewayClient }) => Promise<void>,
  flags?: SpawnOptions["flags"],
): Promise<void> {
  const started = await startFakeGateway(fake, dataDir, env, flags);
  try {
    await fn(started);
  } finally {
    await started.gateway.dispose();
  }
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
  pushName = `Phone ${id}`,
): Promise<SessionView> {
  await client.createSession(id, `Session ${id}`);
  const qr = await client.waitForQr(id);
  await fake.pairWithQr(qr, { phoneNumber, pushName });
  return await client.waitForStatus(id, "connected");
}
