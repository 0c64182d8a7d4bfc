import type { EventBus } from "../domain/events.ts";
import { SESSION_STATUSES, type SessionStatus } from "../domain/session.ts";
import { Counter, Gauge, Histogram, MetricsRegistry } from "./metrics_registry.ts";
import type { PersistenceWriteKind } from "./timed_session_store.ts";
import {
  VERIFICATION_PATHS,
  type VerificationPath,
} from "../whatsapp/native_curve/verification_counters.ts";

/** Buckets of `wa_persistence_write_seconds`: an fsynced write takes from ~0.1 ms to seconds. */
export const PERSISTENCE_WRITE_BUCKETS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
] as const;

/** Results of a webhook delivery attempt, as `wa_webhook_deliveries_total{result}` counts them. */
export const WEBHOOK_RESULTS = ["success", "failure"] as const;
export type WebhookResult = (typeof WEBHOOK_RESULTS)[number];

/**
 * Every metric the gateway exposes at `/metrics`. One instance per gateway (tests get their own),
 * created by `startGateway` and reachable as `gateway.metrics`. Most values are fed without
 * threading this object through the code: session counts are read from the manager at scrape
 * time; reconnects, received messages and message status updates come from the event bus
 * and sent messages come from the event bus (`observe`); persistence latency from the store
 * decorator (`recordPersistenceWrite`); HTTP requests from a middleware; webhook attempts from
 * the deliverer's hook (`recordWebhookAttempt`) and dead letters from `trackDeadLetters`; a full
 * disk from the store (`recordStorageWritable`); the connection workers from the pool
 * (`trackConnectionWorkers`, `recordConnectionWorkerFailure`); signature checks from the counters
 * the connection threads share (`trackSignatureVerifications`).
 *
 * @example
 * ```ts
 * const metrics = new GatewayMetrics();
 * metrics.trackSessions(() => manager.list());
 * const stop = metrics.observe(events);
 * metrics.trackDeadLetters(() => webhooks.deadLetters().length);
 * metrics.registry.render();
 * ```
 */
export class GatewayMetrics {
  readonly registry = new MetricsRegistry();

  /** Times a session entered `reconnecting` (a dropped connection, or a failed retry). */
  readonly sessionReconnects = this.registry.register(
    new Counter({
      name: "wa_session_reconnects_total",
      help: "Times a session's connection dropped and a reconnect was scheduled.",
    }),
  );

  /** Time from a store write being requested to it being durable, by kind. */
  readonly persistenceWriteSeconds = this.registry.register(
    new Histogram<"kind">({
      name: "wa_persistence_write_seconds",
      help: "Time for a session store write (metadata or auth files) to become durable.",
      labelNames: ["kind"],
      initialLabels: [{ kind: "metadata" }, { kind: "auth" }],
      buckets: PERSISTENCE_WRITE_BUCKETS,
    }),
  );

  /** HTTP requests by method, route pattern (not the raw path) and status code. */
  readonly httpRequests = this.registry.register(
    new Counter<"method" | "route" | "status">({
      name: "wa_http_requests_total",
      help: "HTTP requests served, by method, route pattern and status code.",
      labelNames: ["method", "route", "status"],
    }),
  );

  /** Messages accepted by WhatsApp's server when sent (`message.sent` on the bus). */
  readonly messagesSent = this.registry.register(
    new Counter({ name: "wa_messages_sent_total", help: "Messages sent through the gateway." }),
  );

  /** Messages received from WhatsApp, from the event bus. */
  readonly messagesReceived = this.registry.register(
    new Counter({
      name: "wa_messages_received_total",
      help: "Messages received from WhatsApp.",
    }),
  );

  /** Status changes (delivered, read, played, failed) of sent messages, from the event bus. */
  readonly messageStatusUpdates = this.registry.register(
    new Counter<"status">({
      name: "wa_message_status_updates_total",
      help: "Status changes (delivered, read, played, failed) of sent messages.",
      labelNames: ["status"],
    }),
  );

  /** Webhook delivery attempts by result (`recordWebhookAttempt`). */
  readonly webhookDeliveries = this.registry.register(
    new Counter<"result">({
      name: "wa_webhook_deliveries_total",
      help: "Webhook delivery attempts, by result.",
      labelNames: ["result"],
      initialLabels: WEBHOOK_RESULTS.map((result) => ({ result })),
    }),
  );

  /** Connection worker threads that died (`recordConnectionWorkerFailure`). */
  readonly connectionWorkerFailures = this.registry.register(
    new Counter({
      name: "wa_connection_worker_failures_total",
      help: "Connection worker threads that died (their sessions reconnected in another).",
    }),
  );

  /** XEdDSA signature checks by the implementation that decided them (shared counters). */
  readonly signatureVerifications = this.registry.register(
    new Counter<"implementation">({
      name: "wa_signature_verifications_total",
      help: "XEdDSA signature checks (server certificates, group messages), by the " +
        "implementation that decided them.",
      labelNames: ["implementation"],
      collect: () => {
        const counts = this.#signatureVerifications();
        return VERIFICATION_PATHS.map((path) => [{ implementation: path }, counts[path]]);
      },
    }),
  );

  /** Times the data directory's disk became full (`recordStorageWritable(false)`). */
  readonly storageFull = this.registry.register(
    new Counter({
      name: "wa_storage_full_total",
      help: "Times writes to the data directory started failing for lack of space.",
    }),
  );

  #storageWritable = true;
  #sessions: () => Iterable<{ status: SessionStatus }> = () => [];
  #deadLetters: () => number = () => 0;
  #connectionWorkers: () => number = () => 0;
  #signatureVerifications: () => Record<VerificationPath, number> = () => ({
    node_crypto: 0,
    curve25519_js: 0,
  });

  constructor() {
    this.registry.register(
      new Gauge({
        name: "wa_webhook_dead_letters",
        help: "Webhook deliveries that exhausted their retries and wait in the dead letters.",
        collect: () => [[{}, this.#deadLetters()]],
      }),
    );
    this.registry.register(
      new Gauge({
        name: "wa_connection_workers",
        help: "Worker threads running WhatsApp connections (0: they run on the main thread).",
        collect: () => [[{}, this.#connectionWorkers()]],
      }),
    );
    this.registry.register(
      new Gauge({
        name: "wa_storage_writable",
        help: "1 while the store writes, 0 while its disk is full (writes answer 507).",
        collect: () => [[{}, this.#storageWritable ? 1 : 0]],
      }),
    );
    this.registry.register(
      new Gauge<"status">({
        name: "wa_sessions",
        help: "Sessions by status.",
        labelNames: ["status"],
        collect: () => this.#countSessions(),
      }),
    );
  }

  /** Reports `wa_sessions` from `list()` at every scrape. */
  trackSessions(list: () => Iterable<{ status: SessionStatus }>): void {
    this.#sessions = list;
  }

  /** Reports `wa_webhook_dead_letters` from `count()` at every scrape. */
  trackDeadLetters(count: () => number): void {
    this.#deadLetters = count;
  }

  /** Reports `wa_connection_workers` from `count()` at every scrape. */
  trackConnectionWorkers(count: () => number): void {
    this.#connectionWorkers = count;
  }

  /** Reports `wa_signature_verifications_total` from `counts()` at every scrape. */
  trackSignatureVerifications(counts: () => Record<VerificationPath, number>): void {
    this.#signatureVerifications = counts;
  }

  /** The connection worker pool's `onWorkerFailure` hook. */
  readonly recordConnectionWorkerFailure = (): void => {
    this.connectionWorkerFailures.inc();
  };

  /** The full-disk store's `onChange` hook: writes failing for lack of space, or not. */
  readonly recordStorageWritable = (writable: boolean): void => {
    if (!writable && this.#storageWritable) this.storageFull.inc();
    this.#storageWritable = writable;
  };

  /** The deliverer's `onDeliveryAttempt` hook. */
  readonly recordWebhookAttempt = (ok: boolean): void => {
    this.webhookDeliveries.inc({ result: ok ? "success" : "failure" });
  };

  /** Counts what the event bus reports; returns a function that stops it. */
  observe(bus: EventBus): () => void {
    return bus.subscribe((event) => {
      switch (event.type) {
        case "session.status":
          if (event.status === "reconnecting" && event.previousStatus !== "reconnecting") {
            this.sessionReconnects.inc();
          }
          break;
        case "message.received":
          this.messagesReceived.inc();
          break;
        case "message.sent":
          this.messagesSent.inc();
          break;
        case "message.status":
          this.messageStatusUpdates.inc({ status: event.status });
          break;
      }
    });
  }

  /** The `onWrite` hook of `TimedSessionStore`. */
  readonly recordPersistenceWrite = (durationMs: number, kind: PersistenceWriteKind): void => {
    this.persistenceWriteSeconds.observe({ kind }, durationMs / 1000);
  };

  *#countSessions(): Iterable<[{ status: string }, number]> {
    const counts = new Map<SessionStatus, number>(SESSION_STATUSES.map((s) => [s, 0]));
    for (const { status } of this.#sessions()) counts.set(status, (counts.get(status) ?? 0) + 1);
    for (const [status, count] of counts) yield [{ status }, count];
  }
}
