import type { Config } from "./config.ts";
import type { ConnectionFactory } from "./domain/connection.ts";
import { EventBus } from "./domain/events.ts";
import { type RestoreReport, SessionManager } from "./domain/session_manager.ts";
import { createApp } from "./http/app.ts";
import type { Logger } from "./logger.ts";
import { GatewayMetrics } from "./observability/gateway_metrics.ts";
import { TimedSessionStore } from "./observability/timed_session_store.ts";
import type { Persistence } from "./persistence/persistence.ts";
import { WebhookService } from "./webhooks/webhook_service.ts";
import { configuredApiKey, type ResolvedApiKey } from "./secrets/api_key.ts";

export interface GatewayOptions {
  config: Config;
  logger: Logger;
  /** Where everything is kept (`openPersistence` in `main.ts` picks it from `STORE`). */
  persistence: Persistence;
  /** Opens WhatsApp connections; without it sessions are metadata only. */
  connections?: ConnectionFactory;
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
  /** Stops accepting requests, lets in-flight ones finish, closes sessions, flushes, unlocks. */
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
  const { config, logger, persistence } = options;
  let configured: ResolvedApiKey | undefined;
  try {
    // Key settings are checked before the data directory is touched.
    configured = await configuredApiKey(config.apiKey, logger);
  } catch (error) {
    await persistence.close();
    throw error;
  }
  const metrics = options.metrics ?? new GatewayMetrics();
  const store = new TimedSessionStore(persistence.store, metrics.recordPersistenceWrite);
  const events = new EventBus((error, event) =>
    logger.error({ err: error, eventType: event.type }, "event listener failed")
  );
  const manager = new SessionManager({
    store,
    logger,
    events,
    connections: options.connections,
    restoreConcurrency: config.restoreConcurrency,
    webhookAllowedHosts: config.webhooks.allowedHosts,
  });
  metrics.trackSessions(() => manager.list());
  metrics.observe(events);

  let restoreReport: RestoreReport;
  try {
    restoreReport = await manager.restore();
  } catch (error) {
    await store.close().catch(() => {});
    await persistence.close();
    throw error;
  }
  let apiKey: ResolvedApiKey;
  let webhooks: WebhookService;
  try {
    apiKey = configured ?? await persistence.generatedApiKey();
    // Under the data directory's lock, and before any session connects: the first events of
    // the restored sessions already go through the outbox.
    webhooks = await WebhookService.open({
      outbox: persistence.outbox,
      events,
      logger: logger.child({ component: "webhooks" }),
      settings: config.webhooks,
      sessionWebhooks: (id) => manager.webhooksOf(id),
      onDeliveryAttempt: metrics.recordWebhookAttempt,
      claimTtlMs: config.cluster.leaseTtlMs,
    });
  } catch (error) {
    await manager.shutdown();
    await store.close();
    await persistence.close();
    throw error;
  }
  metrics.trackDeadLetters(() => webhooks.deadLetterCount);
  logger.info(
    {
      restored: restoreReport.restored.length,
      quarantined: restoreReport.load.quarantined.length,
      rebuiltFromAuth: restoreReport.load.rebuiltFromAuth.length,
    },
    `restored ${restoreReport.restored.length} session(s) from ${persistence.location}`,
  );

  const restored = manager.connectRestored().catch((error) => {
    logger.error({ err: error }, "reconnecting restored sessions failed");
  });

  const closing = new AbortController();
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
    sseKeepAliveMs: config.sseKeepAliveMs,
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
      store: persistence.kind,
      ...(persistence.kind === "file" ? { dataDir: config.dataDir } : {}),
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
      await server.shutdown();
      await manager.shutdown();
      // After the sessions, so their last events are in the outbox; before the lock goes.
      await webhooks.close(Math.min(config.webhooks.timeoutMs, config.shutdownTimeoutMs / 2));
      await store.close();
      await persistence.close();
    })();

  return { manager, events, webhooks, restoreReport, metrics, address, restored, shutdown };
}
