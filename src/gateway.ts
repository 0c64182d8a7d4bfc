import type { Config } from "./config.ts";
import type { ConnectionFactory } from "./domain/connection.ts";
import { EventBus } from "./domain/events.ts";
import { singleOwnerFence } from "./domain/fence.ts";
import { RequestDrain } from "./http/request_drain.ts";
import { IdempotentSends } from "./domain/idempotent_sends.ts";
import { MessageActions } from "./domain/message_actions.ts";
import { type RestoreReport, SessionManager } from "./domain/session_manager.ts";
import { createApp } from "./http/app.ts";
import type { Logger } from "./logger.ts";
import { ClusterMetrics } from "./observability/cluster_metrics.ts";
import { GatewayMetrics } from "./observability/gateway_metrics.ts";
import { TimedSessionStore } from "./observability/timed_session_store.ts";
import { clusterOverview } from "./ownership/cluster_overview.ts";
import { LeaseOwnerDirectory } from "./ownership/lease_owner_directory.ts";
import type { Persistence } from "./persistence/persistence.ts";
import { probeFreeSpace } from "./persistence/space_probe.ts";
import { configuredApiKey, type ResolvedApiKey } from "./secrets/api_key.ts";
import { FullDiskStore } from "./storage/full_disk_store.ts";
import { WebhookService } from "./webhooks/webhook_service.ts";
import { MediaDownloads } from "./media/media_downloads.ts";
import { MediaIntake } from "./media/media_intake.ts";
import { canCollectChunkGarbage } from "./media/chunk_garbage.ts";

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
  /**
   * Answers 503 to new API requests, lets those in flight finish, closes sessions, flushes,
   * unlocks, then stops listening.
   */
  shutdown(): Promise<void>;
}

/**
 * Starts the gateway in the order durability needs: read the configured keys, open the store
 * (taking its lock or checking the database, checking the encryption key and encrypting plaintext
 * auth files) and restore records, open the message store, take the generated API key when none
 * is configured, start this node's ownership loop (which connects the sessions that fall to it),
 * and only then serve HTTP. Throws `ConfigError` or `EncryptionKeyError` for a bad key, having
 * released the store.
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
  const clusterMetrics = new ClusterMetrics(metrics.registry);
  // A full disk answers 507 and keeps failed auth writes for later; the probe tells when the
  // data directory's disk takes writes again (a database is probed by retrying its writes).
  const storage = new FullDiskStore(persistence.store, {
    logger: logger.child({ component: "storage" }),
    probe: persistence.kind === "file"
      ? () => probeFreeSpace(config.dataDir)
      : () => Promise.resolve(),
    onChange: metrics.recordStorageWritable,
  });
  const store = new TimedSessionStore(storage, metrics.recordPersistenceWrite);
  const { messages, leases, nodes } = persistence;
  const events = new EventBus((error, event) =>
    logger.error({ err: error, eventType: event.type }, "event listener failed")
  );
  const manager = new SessionManager({
    store,
    logger,
    events,
    connections: options.connections,
    messages,
    ownership: {
      lock: leases,
      registry: nodes,
      node: {
        id: config.cluster.nodeId,
        url: config.cluster.nodeUrl ?? `http://${config.host}:${config.port}`,
      },
      // One process on the file store holds every lease itself: nobody could take one over,
      // so its leases need no short expiry (and a long stall never self-fences it).
      ttlMs: persistence.kind === "file" ? LOCAL_LEASE_TTL_MS : config.cluster.leaseTtlMs,
    },
    ownershipObserver: clusterMetrics.observer,
    exclusiveStore: persistence.kind === "file",
    restoreConcurrency: config.restoreConcurrency,
    webhookAllowedHosts: config.webhooks.allowedHosts,
    storage,
    signals: persistence.signals,
  });
  metrics.trackSessions(() => manager.runningHere());
  clusterMetrics.trackLeasesHeld(() => manager.ownership.heldSessions.length);
  metrics.observe(events);

  let restoreReport: RestoreReport;
  try {
    restoreReport = await manager.restore();
  } catch (error) {
    await store.close().catch(() => {});
    await persistence.close();
    throw error;
  }
  const mediaDownloads = new MediaDownloads({
    dataDir: persistence.localDir,
    host: config.media.downloadHost,
    cacheBytes: config.media.cacheBytes,
    // Loaded on the first download: Baileys' protobufs would otherwise cost the main thread about
    // 45 MiB, and with connection workers it runs no Baileys of its own.
    referenceOf: async (content) =>
      (await import("./whatsapp/media_message.ts")).mediaReferenceOf(content),
  });
  // A deleted session's cached files go with it.
  events.subscribe((event) => {
    if (event.type !== "session.deleted") return;
    mediaDownloads.removeSession(event.sessionId).catch((error) =>
      logger.warn({ err: error, sessionId: event.sessionId }, "removing cached media failed")
    );
  });
  const mediaIntake = new MediaIntake({
    dataDir: persistence.localDir,
    maxBytes: config.media.maxBytes,
    urlAllowedHosts: config.media.urlAllowedHosts,
    urlTimeoutMs: config.media.urlTimeoutMs,
  });
  let apiKey: ResolvedApiKey;
  let webhooks: WebhookService;
  let messagesOpen = false;
  try {
    // Under the data directory's lock, before any connection stores a message.
    const loaded = await messages.open();
    messagesOpen = true;
    if (persistence.kind === "file") {
      // Messages of sessions that are gone (deleted in a run that crashed before their messages
      // went, or cleaned up by the restore): deleted with them. A session that no longer exists
      // has no owner, so nobody else can be writing its messages.
      const known = new Set((await store.list()).map((record) => record.id));
      for (const id of loaded.sessionIds.filter((id) => !known.has(id))) {
        await messages.deleteSession(singleOwnerFence(id));
      }
    }
    logger.info({ sessions: loaded.sessions, messages: loaded.messages }, "message store opened");
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
    // Under the lock too: files a crashed run left staged belong to no request now.
    const swept = await mediaIntake.sweep();
    if (swept > 0) logger.info({ swept }, "removed media files left staged by an earlier run");
    if (canCollectChunkGarbage()) {
      logger.info("media streams free their chunk buffers every MiB (V8's gc is exposed)");
    } else {
      logger.warn(
        "V8's gc is not exposed (--v8-flags=--expose-gc, which `deno task start` passes): " +
          "sending a large media file may hold up to about 130 MiB more memory",
      );
    }
  } catch (error) {
    await manager.shutdown();
    if (messagesOpen) await messages.close();
    await store.close();
    await persistence.close();
    throw error;
  }
  const prune = () =>
    messages.prune(new Date()).then(
      (removed) => removed > 0 && logger.info({ removed }, "message retention: dropped messages"),
      (error) => logger.error({ err: error }, "message retention failed"),
    );
  await prune();
  const pruneTimer = setInterval(prune, PRUNE_INTERVAL_MS);
  metrics.trackDeadLetters(() => webhooks.deadLetterCount);
  logger.info(
    {
      restored: restoreReport.restored.length,
      quarantined: restoreReport.load.quarantined.length,
      rebuiltFromAuth: restoreReport.load.rebuiltFromAuth.length,
    },
    `restored ${restoreReport.restored.length} session(s) from ${persistence.location}`,
  );

  // The live stream shows this node's events and, through the relay, every other node's; webhooks
  // and metrics see this node's only (each event is queued and counted where it happened).
  const stream = new EventBus((error, event) =>
    logger.error({ err: error, eventType: event.type }, "event stream listener failed")
  );
  const { relay, signals } = persistence;
  events.subscribe((event) => {
    stream.deliver(event);
    relay?.send(event);
  });
  await relay?.start((event) => stream.deliver(event));
  await signals?.start(
    (signal) => {
      if (signal.kind === "placement") manager.ownership.wake();
      else void manager.reloadSpec(signal.sessionId);
    },
    () => manager.ownership.wake(),
  );

  const restored = manager.connectRestored().catch((error) => {
    logger.error({ err: error }, "reconnecting restored sessions failed");
  });

  const closing = new AbortController();
  const drain = new RequestDrain();
  const app = createApp({
    manager,
    events: stream,
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
    cluster: {
      nodeId: config.cluster.nodeId,
      owners: new LeaseOwnerDirectory({
        lock: leases,
        registry: nodes,
        holds: (id) => manager.ownership.holds(id),
        exists: async (id) => (await store.get(id)) !== undefined,
      }),
      overview: () => clusterOverview(leases, nodes),
      forwardTimeoutMs: config.cluster.forwardTimeoutMs,
      retryAfterSeconds: Math.max(1, Math.ceil(config.cluster.leaseTtlMs / 4_000)),
      onForward: clusterMetrics.recordForward,
    },
    mediaIntake,
    mediaDownloads,
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
      store: persistence.kind,
      node: config.cluster.nodeId,
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
      // Still listening: new API requests get 503 until the end; those in flight finish first.
      await drain.begin();
      // Closes this node's sockets, then releases their leases so other nodes take them.
      await manager.shutdown();
      // After the sessions, so their last events are in the outbox; before the lock goes.
      await webhooks.close(Math.min(config.webhooks.timeoutMs, config.shutdownTimeoutMs / 2));
      clearInterval(pruneTimer);
      await relay?.close();
      await signals?.close();
      await messages.close();
      await store.close();
      await persistence.close();
      await server.shutdown();
    })();

  return { manager, events, webhooks, restoreReport, metrics, address, restored, shutdown };
}

/** The leases of the file store's single process (renewed every quarter of it). */
const LOCAL_LEASE_TTL_MS = 600_000;

/** How often the message retention is enforced (also once at startup). */
const PRUNE_INTERVAL_MS = 3_600_000;
