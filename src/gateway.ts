import type { Config } from "./config.ts";
import type { ConnectionFactory } from "./domain/connection.ts";
import { EventBus } from "./domain/events.ts";
import { type RestoreReport, SessionManager } from "./domain/session_manager.ts";
import type { SessionStore } from "./domain/session_store.ts";
import { createApp } from "./http/app.ts";
import { RequestDrain } from "./http/request_drain.ts";
import type { Logger } from "./logger.ts";
import { GatewayMetrics } from "./observability/gateway_metrics.ts";
import { TimedSessionStore } from "./observability/timed_session_store.ts";
import { type AuthFileCodec, plainCodec } from "./persistence/auth_file_codec.ts";
import { createAesGcmCodec } from "./persistence/encrypted_auth_file.ts";
import { createValueSealer, type ValueSealer } from "./persistence/sealed_value.ts";
import { FileSessionStore } from "./persistence/file_session_store.ts";
import { FileWebhookOutbox } from "./persistence/file_webhook_outbox.ts";
import { FileMessageStore } from "./persistence/message_store/file_message_store.ts";
import type { MessageStore } from "./domain/message_store.ts";
import { IdempotentSends } from "./domain/idempotent_sends.ts";
import { MessageActions } from "./domain/message_actions.ts";
import type { WebhookOutbox } from "./domain/webhook_outbox.ts";
import { WebhookService } from "./webhooks/webhook_service.ts";
import { configuredApiKey, dataDirApiKey, type ResolvedApiKey } from "./secrets/api_key.ts";
import { resolveEncryptionKey } from "./secrets/encryption_key.ts";

export interface GatewayOptions {
  config: Config;
  logger: Logger;
  /** Defaults to the file store on `config.dataDir`. */
  store?: SessionStore;
  /** Opens WhatsApp connections; without it sessions are metadata only. */
  connections?: ConnectionFactory;
  /** Defaults to the file outbox in `config.dataDir`. */
  outbox?: WebhookOutbox;
  /** Defaults to the file message store in `config.dataDir`. */
  messages?: MessageStore;
  /** Where `/metrics` reads from; pass one to feed it from objects built before the gateway. */
  metrics?: GatewayMetrics;
}

/** A running gateway: restored sessions, an HTTP server, and the way to stop both. */
export interface Gateway {
  manager: SessionManager;
  events: EventBus;
  webhooks: WebhookService;
  restoreReport: RestoreReport;
  /** What `/metrics` reports. */
  metrics: GatewayMetrics;
  /** The bound address (the port is real even when `config.port` was 0). */
  address: { hostname: string; port: number };
  /** Resolves when every restored session has settled. */
  restored: Promise<void>;
  /**
   * Answers 503 to new API requests, lets those in flight finish, closes sessions, flushes,
   * unlocks, then stops listening.
   */
  shutdown(): Promise<void>;
}

/**
 * Starts the gateway in the order durability needs: read the configured keys, open the store
 * (taking its lock, checking the encryption key and encrypting plaintext auth folders) and
 * restore metadata, take the API key from the data directory when none is configured (generated
 * under the lock on first start), kick off reconnecting the restored sessions, and only then serve
 * HTTP. Throws `ConfigError` or `EncryptionKeyError` for a bad key, having released the lock.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { config, logger } = options;
  // Key settings are checked before the data directory is touched.
  const configured = await configuredApiKey(config.apiKey, logger);
  const metrics = options.metrics ?? new GatewayMetrics();
  const atRest = await encryptionAtRest(config, logger);
  const store = new TimedSessionStore(
    options.store ??
      new FileSessionStore({
        dataDir: config.dataDir,
        logger: logger.child({ component: "store" }),
        codec: atRest.codec,
        sealer: atRest.sealer,
      }),
    metrics.recordPersistenceWrite,
  );
  const events = new EventBus((error, event) =>
    logger.error({ err: error, eventType: event.type }, "event listener failed")
  );
  const messages = options.messages ??
    new FileMessageStore({
      dataDir: config.dataDir,
      logger: logger.child({ component: "message-store" }),
      retention: {
        maxAgeMs: config.messageStore.retentionDays * DAY_MS,
        maxBytesPerSession: config.messageStore.maxBytesPerSession,
      },
      sealer: atRest.sealer,
    });
  const manager = new SessionManager({
    store,
    logger,
    events,
    connections: options.connections,
    messages,
    restoreConcurrency: config.restoreConcurrency,
    webhookAllowedHosts: config.webhooks.allowedHosts,
  });
  metrics.trackSessions(() => manager.list());
  metrics.observe(events);

  const restoreReport = await manager.restore();
  let apiKey: ResolvedApiKey;
  let webhooks: WebhookService;
  let messagesOpen = false;
  try {
    // Under the data directory's lock, before any connection stores a message.
    const loaded = await messages.open();
    messagesOpen = true;
    // Messages of sessions that are gone (deleted in a run that crashed before their messages
    // went, or cleaned up by the restore): deleted with them.
    const known = new Set(manager.list().map((record) => record.id));
    for (const id of loaded.sessionIds.filter((id) => !known.has(id))) {
      await messages.deleteSession(manager.fenceOf(id));
    }
    logger.info(
      { sessions: loaded.sessions, messages: loaded.messages },
      "message store opened",
    );
    apiKey = configured ?? await dataDirApiKey(config.dataDir, logger);
    // Under the data directory's lock, and before any session connects: the first events of
    // the restored sessions already go through the outbox.
    webhooks = await WebhookService.open({
      outbox: options.outbox ??
        new FileWebhookOutbox({
          dataDir: config.dataDir,
          logger: logger.child({ component: "webhook-outbox" }),
          sealer: atRest.sealer,
        }),
      events,
      logger: logger.child({ component: "webhooks" }),
      settings: config.webhooks,
      sessionWebhooks: (id) => manager.webhooksOf(id),
      onDeliveryAttempt: metrics.recordWebhookAttempt,
    });
  } catch (error) {
    await manager.shutdown();
    if (messagesOpen) await messages.close();
    await store.close();
    throw error;
  }
  const prune = () =>
    messages.prune(new Date()).then(
      (removed) => removed > 0 && logger.info({ removed }, "message retention: dropped messages"),
      (error) => logger.error({ err: error }, "message retention failed"),
    );
  await prune();
  const pruneTimer = setInterval(prune, PRUNE_INTERVAL_MS);
  metrics.trackDeadLetters(() => webhooks.deadLetters().length);
  logger.info(
    {
      restored: restoreReport.restored.length,
      quarantined: restoreReport.load.quarantined.length,
      rebuiltFromAuth: restoreReport.load.rebuiltFromAuth.length,
    },
    `restored ${restoreReport.restored.length} session(s) from ${config.dataDir}`,
  );

  const restored = manager.connectRestored().catch((error) => {
    logger.error({ err: error }, "reconnecting restored sessions failed");
  });

  const closing = new AbortController();
  const drain = new RequestDrain();
  const app = createApp({
    manager,
    events,
    closing: closing.signal,
    logger,
    maxBodyBytes: config.maxBodyBytes,
    apiKey: apiKey.key,
    corsOrigins: config.corsOrigins,
    metrics: config.metricsEnabled ? metrics : undefined,
    deadLetters: webhooks,
    messageActions: new MessageActions(manager, messages),
    idempotentSends: new IdempotentSends({
      records: messages.idempotency,
      fenceOf: (id) => manager.fenceOf(id),
    }),
    sseKeepAliveMs: config.sseKeepAliveMs,
    drain,
  });
  const listening = Promise.withResolvers<{ hostname: string; port: number }>();
  const server = Deno.serve(
    {
      hostname: config.host,
      port: config.port,
      onListen: (address) => listening.resolve(address),
    },
    app.fetch,
  );
  const address = await listening.promise;
  // The one line an operator needs: where to reach it, what it serves, how to authenticate.
  logger.info(
    {
      url: `http://${address.hostname}:${address.port}`,
      dataDir: config.dataDir,
      sessionsRestored: restoreReport.restored.length,
      // Where the key is, never the key: API_KEY, API_KEY_FILE or the data directory's file.
      apiKeySource: apiKey.source,
      ...(apiKey.path ? { apiKeyFile: apiKey.path } : {}),
      docs: `http://${address.hostname}:${address.port}/docs`,
      dashboard: `http://${address.hostname}:${address.port}/`,
    },
    "gateway listening",
  );

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    stopping ??= (async () => {
      closing.abort(); // live event streams end, or they would hold up the drain
      // Still listening: new API requests get 503 until the end; those in flight finish first.
      await drain.begin();
      await manager.shutdown();
      // After the sessions, so their last events are in the outbox; before the lock goes.
      await webhooks.close(Math.min(config.webhooks.timeoutMs, config.shutdownTimeoutMs / 2));
      clearInterval(pruneTimer);
      await messages.close();
      await store.close();
      await server.shutdown();
    })();

  return { manager, events, webhooks, restoreReport, metrics, address, restored, shutdown };
}

const DAY_MS = 86_400_000;
/** How often the message retention is enforced (also once at startup). */
const PRUNE_INTERVAL_MS = 3_600_000;

/**
 * With a key configured: auth files encrypted, and the secrets and message bodies kept in the
 * metadata and the webhook outbox sealed. Without one, everything is stored as it is.
 */
async function encryptionAtRest(
  config: Config,
  logger: Logger,
): Promise<{ codec: AuthFileCodec; sealer?: ValueSealer }> {
  const key = await resolveEncryptionKey(config.encryptionKey, "SESSIONS_ENCRYPTION_KEY", logger);
  if (!key) return { codec: plainCodec };
  logger.info(
    "auth files, webhook secrets, queued events and stored messages are encrypted at rest (AES-256-GCM)",
  );
  return { codec: await createAesGcmCodec(key), sealer: createValueSealer(key) };
}
