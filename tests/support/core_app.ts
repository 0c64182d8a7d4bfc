import type { OpenAPIHono } from "@hono/zod-openapi";
import type { WebhookSettings } from "../../src/config.ts";
import type { ConnectionFactory } from "../../src/domain/connection.ts";
import { EventBus, type GatewayEvent } from "../../src/domain/events.ts";
import { type RestoreReport, SessionManager } from "../../src/domain/session_manager.ts";
import { createApp } from "../../src/http/app.ts";
import type { Logger } from "../../src/logger.ts";
import { createAesGcmCodec } from "../../src/persistence/encrypted_auth_file.ts";
import { GatewayMetrics } from "../../src/observability/gateway_metrics.ts";
import { FileSessionStore } from "../../src/persistence/file_session_store.ts";
import { createValueSealer } from "../../src/persistence/sealed_value.ts";
import { FileWebhookOutbox } from "../../src/persistence/file_webhook_outbox.ts";
import { WebhookService } from "../../src/webhooks/webhook_service.ts";
import { FileMessageStore } from "../../src/persistence/message_store/file_message_store.ts";
import type { MessageRetention } from "../../src/domain/message_store.ts";
import { IdempotentSends } from "../../src/domain/idempotent_sends.ts";
import { MessageActions } from "../../src/domain/message_actions.ts";
import { MediaIntake } from "../../src/media/media_intake.ts";
import { MediaDownloads } from "../../src/media/media_downloads.ts";
import { mediaReferenceOf } from "../../src/whatsapp/media_message.ts";
import { testLogger } from "./logger.ts";

/** The API key `openCoreApp` and `spawnGateway` use unless told otherwise. */
export const TEST_API_KEY = "test-api-key-0123456789abcdef";

/** The key each app from `openCoreApp` was built with, so `requestJson` sends the right one. */
const appKeys = new WeakMap<OpenAPIHono, string>();

/** Options of {@linkcode openCoreApp}. */
export interface CoreAppOptions {
  connections?: ConnectionFactory;
  maxBodyBytes?: number;
  /** `MAX_MEDIA_BYTES` of the app (default 1 MiB). */
  maxMediaBytes?: number;
  /** `MEDIA_URL_ALLOWED_HOSTS` of the app. */
  mediaUrlAllowedHosts?: string[];
  /** The API key the app requires (default `TEST_API_KEY`). */
  apiKey?: string;
  /** Encrypt auth files at rest with this 32-byte key. */
  encryptionKey?: Uint8Array;
  corsOrigins?: string[];
  /** Default: silent unless TEST_LOG_LEVEL is set. */
  logger?: Logger;
  /** Default: a fresh one, fed by the manager and the bus as `startGateway` does. */
  metrics?: GatewayMetrics;
  /** Webhook delivery settings (default: no global webhook, quick retries). */
  webhooks?: Partial<WebhookSettings>;
  /** Keep-alive interval of `GET /api/events` (default 15 s). */
  sseKeepAliveMs?: number;
  /** The message store's retention (default 14 days, 32 MiB a session). */
  retention?: MessageRetention;
}

/** Webhook settings for tests: quick retries and timeouts. */
export const TEST_WEBHOOK_SETTINGS: WebhookSettings = {
  timeoutMs: 2_000,
  maxAttempts: 5,
  retryInitialDelayMs: 20,
  retryMaxDelayMs: 200,
  concurrency: 16,
  allowedHosts: [],
};

/** The real store, manager and HTTP app on a data directory, as `startGateway` wires them. */
export interface CoreApp {
  app: OpenAPIHono;
  manager: SessionManager;
  store: FileSessionStore;
  messages: FileMessageStore;
  /** The bus itself, and every event published on it so far. */
  bus: EventBus;
  events: GatewayEvent[];
  webhooks: WebhookService;
  /** Aborting it ends every event stream (as the gateway's shutdown does). */
  streams: AbortController;
  restoreReport: RestoreReport;
  /** The API key the app requires. */
  apiKey: string;
  /** What the app's `/metrics` reports. */
  metrics: GatewayMetrics;
  close(): Promise<void>;
}

/** Opens the store on `dataDir`, restores it, and builds the app; `requestJson` knows its key. */
export async function openCoreApp(
  dataDir: string,
  options: CoreAppOptions = {},
): Promise<CoreApp> {
  const logger = options.logger ?? testLogger();
  const apiKey = options.apiKey ?? TEST_API_KEY;
  const codec = options.encryptionKey ? await createAesGcmCodec(options.encryptionKey) : undefined;
  const sealer = options.encryptionKey ? createValueSealer(options.encryptionKey) : undefined;
  const store = new FileSessionStore({ dataDir, logger, codec, sealer });
  const messages = new FileMessageStore({
    dataDir,
    logger,
    sealer,
    retention: options.retention ??
      { maxAgeMs: 14 * 86_400_000, maxBytesPerSession: 32 * 1024 * 1024 },
  });
  const bus = new EventBus();
  const events: GatewayEvent[] = [];
  bus.subscribe((event) => events.push(event));
  const manager = new SessionManager({
    store,
    logger,
    events: bus,
    connections: options.connections,
    messages,
    webhookAllowedHosts: options.webhooks?.allowedHosts,
  });
  const metrics = options.metrics ?? new GatewayMetrics();
  metrics.trackSessions(() => manager.runningHere());
  metrics.observe(bus);
  const restoreReport = await manager.restore();
  await messages.open();
  const webhooks = await WebhookService.open({
    outbox: new FileWebhookOutbox({ dataDir, logger, sealer }),
    events: bus,
    logger,
    settings: { ...TEST_WEBHOOK_SETTINGS, ...options.webhooks },
    sessionWebhooks: (id) => manager.webhooksOf(id),
    onDeliveryAttempt: metrics.recordWebhookAttempt,
  });
  metrics.trackDeadLetters(() => webhooks.deadLetterCount);
  await manager.connectRestored();
  const streams = new AbortController();
  const app = createApp({
    manager,
    events: bus,
    logger,
    maxBodyBytes: options.maxBodyBytes ?? 64 * 1024,
    apiKey,
    corsOrigins: options.corsOrigins,
    metrics,
    deadLetters: webhooks,
    messageActions: new MessageActions(manager, messages),
    idempotentSends: new IdempotentSends({
      records: messages.idempotency,
      fenceOf: (id) => manager.fenceOf(id),
    }),
    sseKeepAliveMs: options.sseKeepAliveMs,
    closing: streams.signal,
    mediaDownloads: new MediaDownloads({
      dataDir,
      host: "mmg.whatsapp.net",
      cacheBytes: 0,
      referenceOf: mediaReferenceOf,
    }),
    mediaIntake: new MediaIntake({
      dataDir,
      maxBytes: options.maxMediaBytes ?? 1024 * 1024,
      urlAllowedHosts: options.mediaUrlAllowedHosts ?? [],
      urlTimeoutMs: 5_000,
    }),
  });
  appKeys.set(app, apiKey);
  return {
    app,
    manager,
    store,
    messages,
    bus,
    events,
    webhooks,
    streams,
    restoreReport,
    apiKey,
    metrics,
    async close() {
      streams.abort();
      await manager.shutdown();
      await webhooks.close(500);
      await messages.close();
      await store.close();
    },
  };
}

/** Options of {@linkcode requestJson}. */
export interface RequestOptions {
  /**
   * The API key sent as `X-Api-Key`: by default the app's own (from `openCoreApp`, else
   * `TEST_API_KEY`); a string sends that one instead; `null` sends none.
   */
  apiKey?: string | null;
  /** Extra headers (they win over the defaults). */
  headers?: Record<string, string>;
}

/** Sends a JSON request to the app, with its API key unless told otherwise. */
export function requestJson(
  app: OpenAPIHono,
  method: string,
  path: string,
  body?: unknown,
  options: RequestOptions = {},
): Promise<Response> {
  return Promise.resolve(app.request(path, {
    method,
    headers: {
      ...apiKeyHeader(app, options.apiKey),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...options.headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  }));
}

/**
 * The `X-Api-Key` header for an app from `openCoreApp` (`{}` when `apiKey` is `null`).
 *
 * @example
 * ```ts
 * await core.app.request("/api/sessions", { headers: apiKeyHeader(core.app) });
 * ```
 */
export function apiKeyHeader(
  app: OpenAPIHono,
  apiKey?: string | null,
): Record<string, string> {
  if (apiKey === null) return {};
  return { "x-api-key": apiKey ?? appKeys.get(app) ?? TEST_API_KEY };
}

/** Marks a session as linked on disk the way Baileys' multi-file layout does: a creds.json. */
export async function writeFakeCreds(dataDir: string, sessionId: string): Promise<void> {
  await Deno.mkdir(`${dataDir}/${sessionId}`, { recursive: true });
  await Deno.writeTextFile(
    `${dataDir}/${sessionId}/creds.json`,
    JSON.stringify({ registrationId: 1, me: { id: "15550001111:1@s.whatsapp.net" } }),
  );
}

/** Reads and parses the metadata file. */
export async function readMetadata(
  dataDir: string,
): Promise<Record<string, Record<string, unknown>>> {
  return JSON.parse(await Deno.readTextFile(`${dataDir}/sessions-metadata.json`));
}
