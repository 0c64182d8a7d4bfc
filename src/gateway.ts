import type { Config } from "./config.ts";
import type { ConnectionFactory } from "./domain/connection.ts";
import { EventBus } from "./domain/events.ts";
import { type RestoreReport, SessionManager } from "./domain/session_manager.ts";
import type { SessionStore } from "./domain/session_store.ts";
import { createApp } from "./http/app.ts";
import type { Logger } from "./logger.ts";
import { GatewayMetrics } from "./observability/gateway_metrics.ts";
import { TimedSessionStore } from "./observability/timed_session_store.ts";
import { FileSessionStore } from "./persistence/file_session_store.ts";

export interface GatewayOptions {
  config: Config;
  logger: Logger;
  /** Defaults to the file store on `config.dataDir`. */
  store?: SessionStore;
  /** Opens WhatsApp connections; without it sessions are metadata only. */
  connections?: ConnectionFactory;
}

/** A running gateway: restored sessions, an HTTP server, and the way to stop both. */
export interface Gateway {
  manager: SessionManager;
  events: EventBus;
  restoreReport: RestoreReport;
  /** What `/metrics` reports; messaging and webhooks increment their counters here. */
  metrics: GatewayMetrics;
  /** The bound address (the port is real even when `config.port` was 0). */
  address: { hostname: string; port: number };
  /** Resolves when every restored session has settled. */
  restored: Promise<void>;
  /** Stops accepting requests, lets in-flight ones finish, closes sessions, flushes, unlocks. */
  shutdown(): Promise<void>;
}

/**
 * Starts the gateway in the order durability needs: open the store (taking its lock) and restore
 * metadata, kick off reconnecting the restored sessions, and only then serve HTTP.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { config, logger } = options;
  const metrics = new GatewayMetrics();
  const store = new TimedSessionStore(
    options.store ??
      new FileSessionStore({
        dataDir: config.dataDir,
        logger: logger.child({ component: "store" }),
      }),
    metrics.recordPersistenceWrite,
  );
  const events = new EventBus((error, event) =>
    logger.error({ err: error, eventType: event.type }, "event listener failed")
  );
  const manager = new SessionManager({
    store,
    logger,
    events,
    connections: options.connections,
    restoreConcurrency: config.restoreConcurrency,
  });
  metrics.trackSessions(() => manager.list());
  metrics.observe(events);

  const restoreReport = await manager.restore();
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

  const app = createApp({
    manager,
    logger,
    maxBodyBytes: config.maxBodyBytes,
    metrics: config.metricsEnabled ? metrics : undefined,
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
      // Issue 6 (API keys) sets where the key comes from: API_KEY, API_KEY_FILE or the data dir.
      apiKeySource: "none (the API is not authenticated)",
      docs: `http://${address.hostname}:${address.port}/docs`,
    },
    "gateway listening",
  );

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    stopping ??= (async () => {
      await server.shutdown();
      await manager.shutdown();
      await store.close();
    })();

  return { manager, events, restoreReport, metrics, address, restored, shutdown };
}
