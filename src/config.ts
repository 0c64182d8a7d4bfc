import { z } from "zod";
import {
  EVENT_TYPES,
  EventTypeSchema,
  MIN_WEBHOOK_SECRET_LENGTH,
  type Webhook,
  WEBHOOK_HOST_PATTERN,
  webhookHostProblem,
  WebhookUrlSchema,
} from "./domain/webhook.ts";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Shortest API key accepted: a guessable key would defeat the point. */
export const MIN_API_KEY_LENGTH = 16;
const API_KEY_PATTERN = new RegExp(`^[\\x21-\\x7e]{${MIN_API_KEY_LENGTH},512}$`);
const API_KEY_RULE = `must be ${MIN_API_KEY_LENGTH}-512 printable ASCII characters without spaces`;

/**
 * Why `value` is not an acceptable API key, or `null` when it is. Never echoes the value.
 *
 * @example
 * ```ts
 * apiKeyProblem("short"); // "must be 16-512 printable ASCII characters without spaces"
 * ```
 */
export function apiKeyProblem(value: string): string | null {
  return API_KEY_PATTERN.test(value) ? null : API_KEY_RULE;
}

/** The rule an encryption key must meet, for error messages. */
export const ENCRYPTION_KEY_RULE = "must be the base64 of exactly 32 bytes";

/**
 * Decodes an encryption key (base64 or base64url of 32 bytes); `undefined` when it is not one.
 *
 * @example
 * ```ts
 * parseEncryptionKey(btoa("x".repeat(32)))?.length; // 32
 * ```
 */
export function parseEncryptionKey(value: string): Uint8Array | undefined {
  const bytes = decodeBase64(value.trim().replace(/-/g, "+").replace(/_/g, "/"));
  return bytes?.length === 32 ? bytes : undefined;
}

const secretFile = z.string().min(1);
const encryptionKey = z
  .string()
  .refine((v) => parseEncryptionKey(v) !== undefined, ENCRYPTION_KEY_RULE);

/** Each origin exactly as browsers send it: scheme, host and optional port, no path. */
const corsOrigins = z.string().transform((value, ctx) => {
  const origins = value.split(",").map((origin) => origin.trim()).filter(Boolean);
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      // reported below
    }
    if (!parsed || parsed.origin !== origin || !/^https?:$/.test(parsed.protocol)) {
      ctx.addIssue({
        code: "custom",
        message: `'${origin}' is not an origin like https://app.example.com`,
      });
    }
  }
  return origins;
});

/** A comma-separated list of host patterns (`hooks.example.com`, `*.example.com`). */
const hostPatternList = z.string().transform((value, ctx) => {
  const patterns = value.split(",").map((host) => host.trim().toLowerCase()).filter(Boolean);
  for (const pattern of patterns) {
    if (!WEBHOOK_HOST_PATTERN.test(pattern)) {
      ctx.addIssue({
        code: "custom",
        message: `'${pattern}' is not a host name or *.domain`,
      });
    }
  }
  return patterns;
});

/** A comma-separated list of event types; empty means every type. */
const eventTypeList = z.string().transform((value, ctx) => {
  const types = value.split(",").map((type) => type.trim()).filter(Boolean);
  for (const type of types) {
    if (!EventTypeSchema.safeParse(type).success) {
      ctx.addIssue({
        code: "custom",
        message: `'${type}' is not an event type (${EVENT_TYPES.join(", ")})`,
      });
    }
  }
  return types as Webhook["events"];
});

/** A node id: what the lease table and `GET /api/cluster/nodes` show. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const NODE_ID_RULE = "must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' or '-'";

/**
 * Every environment variable the gateway reads, with its default. README.md documents each one;
 * keep the two in step.
 */
const EnvSchema = z.object({
  PORT: integer(0, 65535).default(3000),
  HOST: z.string().min(1).default("127.0.0.1"),
  SESSIONS_DATA_PATH: z.string().min(1).default("sessions_data"),
  LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
  LOG_FORMAT: z.enum(["json", "pretty"]).default("json"),
  /** How long a SIGTERM/SIGINT drain may take before the process exits non-zero. */
  SHUTDOWN_TIMEOUT_MS: integer(100, 600_000).default(10_000),
  /** Largest request body accepted, in bytes. */
  MAX_BODY_BYTES: integer(1024, 100 * 1024 * 1024).default(1024 * 1024),
  /** How many restored sessions log in at once during startup. */
  RESTORE_CONCURRENCY: integer(1, 1000).default(16),
  RECONNECT_INITIAL_DELAY_MS: integer(10, 600_000).default(1_000),
  RECONNECT_MAX_DELAY_MS: integer(100, 3_600_000).default(60_000),
  BAILEYS_LOG_LEVEL: z.enum(LOG_LEVELS).default("warn"),
  /** Worker threads that run the WhatsApp connections; 0 runs them on the main thread. */
  CONNECTION_WORKERS: integer(0, 64).optional(),
  /** Whether `GET /metrics` is served (it is open, like `/health`). */
  METRICS_ENABLED: z.enum(["true", "false", "1", "0"]).default("true"),
  /** Shown on the phone under "Linked devices". */
  WA_DEVICE_NAME: z.string().min(1).max(50).default("WA Gateway"),
  /** Test/staging only: WhatsApp WebSocket URL (Baileys' `waWebSocketUrl`). */
  WA_WS_URL: z.url({ protocol: /^wss?$/ }).optional(),
  /** Test/staging only: base64 of the 32-byte root key that signs the server certificate. */
  WA_TEST_ROOT_PUBKEY: z
    .string()
    .refine((v) => decodeBase64(v)?.length === 32, "must be the base64 of exactly 32 bytes")
    .optional(),
  API_KEY: z.string().refine((v) => apiKeyProblem(v) === null, API_KEY_RULE).optional(),
  API_KEY_FILE: secretFile.optional(),
  CORS_ORIGINS: corsOrigins.optional(),
  SESSIONS_ENCRYPTION_KEY: encryptionKey.optional(),
  SESSIONS_ENCRYPTION_KEY_FILE: secretFile.optional(),
  /** The global webhook: every session's events are POSTed here (besides per-session ones). */
  WEBHOOK_URL: WebhookUrlSchema.optional(),
  WEBHOOK_SECRET: z.string().min(MIN_WEBHOOK_SECRET_LENGTH).max(256).optional(),
  WEBHOOK_EVENTS: eventTypeList.optional(),
  /** The only hosts webhooks may be sent to; unset allows any. */
  WEBHOOK_ALLOWED_HOSTS: hostPatternList.optional(),
  WEBHOOK_TIMEOUT_MS: integer(100, 120_000).default(10_000),
  WEBHOOK_MAX_ATTEMPTS: integer(1, 10_000).default(10),
  WEBHOOK_RETRY_INITIAL_DELAY_MS: integer(10, 3_600_000).default(1_000),
  WEBHOOK_RETRY_MAX_DELAY_MS: integer(10, 86_400_000).default(300_000),
  WEBHOOK_CONCURRENCY: integer(1, 1_000).default(64),
  /** How often an idle event stream gets a keep-alive comment. */
  SSE_KEEPALIVE_MS: integer(100, 300_000).default(15_000),
  /** This node's name in a cluster (default: the host name). */
  NODE_ID: z.string().regex(NODE_ID_PATTERN, NODE_ID_RULE).optional(),
  /** Where the other nodes reach this node's HTTP API. */
  NODE_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** How long a session's lease lasts unless renewed (renewed every quarter of it). */
  LEASE_TTL_MS: integer(2_000, 600_000).default(20_000),
  /** How long a request forwarded to a session's node may wait for its answer to start. */
  FORWARD_TIMEOUT_MS: integer(100, 120_000).default(10_000),
  MESSAGE_RETENTION_DAYS: integer(1, 3650).default(14),
  /** Per session; 1 MiB to 1 GiB. */
  MESSAGE_STORE_MAX_BYTES: integer(1 << 20, 1 << 30).default(32 * 1024 * 1024),
  HISTORY_SYNC: z.enum(["off", "full"]).default("off"),
  /** Where sessions are kept: the data directory, or a PostgreSQL database shared by nodes. */
  STORE: z.enum(["file", "postgres"]).default("file"),
  /** The PostgreSQL database of `STORE=postgres` (never echoed: it may hold a password). */
  DATABASE_URL: z.string().refine((value) => databaseUrlProblem(value) === null, {
    message: "must be a URL like postgres://user:password@host:5432/database",
  }).optional(),
  /** Largest media file sent or fetched, in bytes. */
  MAX_MEDIA_BYTES: integer(1024, 2 * 1024 ** 3).default(64 * 1024 * 1024),
  /** Hosts a media URL may point at even when they resolve to a private address. */
  MEDIA_URL_ALLOWED_HOSTS: hostPatternList.optional(),
  /** How long fetching a media URL may take, redirects included. */
  MEDIA_URL_TIMEOUT_MS: integer(100, 3_600_000).default(60_000),
  /** Disk space downloaded media may keep in the cache; 0 keeps none. */
  MEDIA_CACHE_BYTES: integer(0, 1024 ** 4).default(256 * 1024 * 1024),
  /** Test/staging only: the host (and port) media is downloaded from instead of WhatsApp's. */
  WA_MEDIA_HOST: z
    .string()
    .regex(
      /^[a-z0-9.-]+(:\d{1,5})?$/i,
      "must be a host name or IPv4 address, with an optional port",
    )
    .optional(),
});

/**
 * Where a secret comes from: the value itself (from the environment), or a file to read at
 * startup. Neither means "not configured".
 */
export interface SecretSource<T> {
  value?: T;
  file?: string;
}

/** The gateway's validated configuration. Built once, at startup, by `loadConfig`. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  logLevel: (typeof LOG_LEVELS)[number];
  logFormat: "json" | "pretty";
  shutdownTimeoutMs: number;
  maxBodyBytes: number;
  restoreConcurrency: number;
  /** `API_KEY` / `API_KEY_FILE`; neither means a key generated into the data directory. */
  apiKey: SecretSource<string>;
  /** `SESSIONS_ENCRYPTION_KEY` / `_FILE`; neither means auth files are stored as they are. */
  encryptionKey: SecretSource<Uint8Array>;
  /** Origins allowed by CORS; empty means CORS is off. */
  corsOrigins: string[];
  metricsEnabled: boolean;
  webhooks: WebhookSettings;
  /** How often an idle `GET /api/events` stream gets a keep-alive comment. */
  sseKeepAliveMs: number;
  cluster: ClusterSettings;
  /** How long and how much of each session's messages the message store keeps. */
  messageStore: { retentionDays: number; maxBytesPerSession: number };
  /** `STORE` and `DATABASE_URL`. */
  store: StoreSettings;
  media: MediaSettings;
  whatsapp: {
    wsUrl?: string;
    testRootPublicKey?: Uint8Array;
    baileysLogLevel: (typeof LOG_LEVELS)[number];
    deviceName: string;
    reconnectInitialDelayMs: number;
    reconnectMaxDelayMs: number;
    /** Worker threads for connections; 0 means the main thread runs them. */
    connectionWorkers: number;
    /** `full` imports old chats into the message store; `off` keeps only what Baileys needs. */
    historySync: "off" | "full";
  };
}

/** Where sessions are kept (`STORE`). */
export type StoreSettings =
  | { kind: "file" }
  /** `DATABASE_URL` holds the password, if any: never log it, nor put it in an error. */
  | { kind: "postgres"; databaseUrl: string };

/** Who this node is among several on one store, and how it holds its sessions. */
export interface ClusterSettings {
  /** `NODE_ID`: the holder written on this node's leases. */
  nodeId: string;
  /** `NODE_URL`: where other nodes forward requests for this node's sessions. */
  nodeUrl?: string;
  /** `LEASE_TTL_MS`. */
  leaseTtlMs: number;
  /** `FORWARD_TIMEOUT_MS`. */
  forwardTimeoutMs: number;
}

/** Limits of media sent and received. */
export interface MediaSettings {
  /** `MAX_MEDIA_BYTES`: the largest file sent, fetched or accepted in a request. */
  maxBytes: number;
  /** `MEDIA_URL_ALLOWED_HOSTS`: hosts fetched even when they resolve to private addresses. */
  urlAllowedHosts: string[];
  urlTimeoutMs: number;
  /** `MEDIA_CACHE_BYTES`: the size cap of downloaded media kept on disk; 0 keeps none. */
  cacheBytes: number;
  /** `WA_MEDIA_HOST`: where downloads go, WhatsApp's `mmg.whatsapp.net` unless set (tests). */
  downloadHost: string;
}

/** How webhooks are delivered, and the global one. */
export interface WebhookSettings {
  /** `WEBHOOK_URL` / `WEBHOOK_SECRET` / `WEBHOOK_EVENTS`; absent when no URL is set. */
  global?: Webhook;
  timeoutMs: number;
  maxAttempts: number;
  retryInitialDelayMs: number;
  retryMaxDelayMs: number;
  /** POSTs in flight at once, over every endpoint and session. */
  concurrency: number;
  /** `WEBHOOK_ALLOWED_HOSTS`: the only hosts webhooks may go to; empty allows any. */
  allowedHosts: string[];
}

/** The environment could not be turned into a configuration; the message lists every problem. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/**
 * Reads and validates the configuration from an environment map. Empty strings count as unset.
 *
 * @example
 * ```ts
 * const config = loadConfig(Deno.env.toObject());
 * ```
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const e = parseEnv(EnvSchema, env);
  const problems: string[] = [];
  if (e.RECONNECT_MAX_DELAY_MS < e.RECONNECT_INITIAL_DELAY_MS) {
    problems.push(
      `RECONNECT_MAX_DELAY_MS: must be at least RECONNECT_INITIAL_DELAY_MS (${e.RECONNECT_INITIAL_DELAY_MS})`,
    );
  }
  if (e.WEBHOOK_URL !== undefined && e.WEBHOOK_SECRET === undefined) {
    problems.push("WEBHOOK_SECRET: required when WEBHOOK_URL is set (it signs every delivery)");
  }
  const hostProblem = e.WEBHOOK_URL
    ? webhookHostProblem(e.WEBHOOK_URL, e.WEBHOOK_ALLOWED_HOSTS ?? [])
    : null;
  if (hostProblem) problems.push(`WEBHOOK_URL: ${hostProblem}`);
  if (e.WEBHOOK_RETRY_MAX_DELAY_MS < e.WEBHOOK_RETRY_INITIAL_DELAY_MS) {
    problems.push(
      `WEBHOOK_RETRY_MAX_DELAY_MS: must be at least WEBHOOK_RETRY_INITIAL_DELAY_MS (${e.WEBHOOK_RETRY_INITIAL_DELAY_MS})`,
    );
  }
  for (const name of ["API_KEY", "SESSIONS_ENCRYPTION_KEY"] as const) {
    if (e[name] !== undefined && e[`${name}_FILE`] !== undefined) {
      problems.push(`${name}_FILE: set either ${name} or ${name}_FILE, not both`);
    }
  }
  if (e.STORE === "postgres" && e.DATABASE_URL === undefined) {
    problems.push("DATABASE_URL: required when STORE=postgres");
  }
  if (e.STORE === "postgres" && e.NODE_URL === undefined) {
    problems.push(
      "NODE_URL: required when STORE=postgres (where the other nodes reach this node's API)",
    );
  }
  if (e.STORE === "file" && e.DATABASE_URL !== undefined) {
    problems.push("DATABASE_URL: set, but STORE is file (set STORE=postgres to use the database)");
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: e.SESSIONS_DATA_PATH,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    maxBodyBytes: e.MAX_BODY_BYTES,
    restoreConcurrency: e.RESTORE_CONCURRENCY,
    apiKey: { value: e.API_KEY, file: e.API_KEY_FILE },
    encryptionKey: {
      value: e.SESSIONS_ENCRYPTION_KEY ? parseEncryptionKey(e.SESSIONS_ENCRYPTION_KEY) : undefined,
      file: e.SESSIONS_ENCRYPTION_KEY_FILE,
    },
    corsOrigins: e.CORS_ORIGINS ?? [],
    metricsEnabled: e.METRICS_ENABLED === "true" || e.METRICS_ENABLED === "1",
    webhooks: {
      global: e.WEBHOOK_URL && e.WEBHOOK_SECRET
        ? { url: e.WEBHOOK_URL, secret: e.WEBHOOK_SECRET, events: e.WEBHOOK_EVENTS ?? [] }
        : undefined,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      maxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
      retryInitialDelayMs: e.WEBHOOK_RETRY_INITIAL_DELAY_MS,
      retryMaxDelayMs: e.WEBHOOK_RETRY_MAX_DELAY_MS,
      concurrency: e.WEBHOOK_CONCURRENCY,
      allowedHosts: e.WEBHOOK_ALLOWED_HOSTS ?? [],
    },
    sseKeepAliveMs: e.SSE_KEEPALIVE_MS,
    store: e.STORE === "postgres" ? { kind: "postgres", databaseUrl: e.DATABASE_URL! } : {
      kind: "file",
    },
    cluster: {
      nodeId: e.NODE_ID ?? defaultNodeId(),
      nodeUrl: e.NODE_URL,
      leaseTtlMs: e.LEASE_TTL_MS,
      forwardTimeoutMs: e.FORWARD_TIMEOUT_MS,
    },
    messageStore: {
      retentionDays: e.MESSAGE_RETENTION_DAYS,
      maxBytesPerSession: e.MESSAGE_STORE_MAX_BYTES,
    },
    media: {
      maxBytes: e.MAX_MEDIA_BYTES,
      urlAllowedHosts: e.MEDIA_URL_ALLOWED_HOSTS ?? [],
      urlTimeoutMs: e.MEDIA_URL_TIMEOUT_MS,
      cacheBytes: e.MEDIA_CACHE_BYTES,
      downloadHost: e.WA_MEDIA_HOST ?? "mmg.whatsapp.net",
    },
    whatsapp: {
      wsUrl: e.WA_WS_URL,
      testRootPublicKey: e.WA_TEST_ROOT_PUBKEY ? decodeBase64(e.WA_TEST_ROOT_PUBKEY)! : undefined,
      baileysLogLevel: e.BAILEYS_LOG_LEVEL,
      deviceName: e.WA_DEVICE_NAME,
      reconnectInitialDelayMs: e.RECONNECT_INITIAL_DELAY_MS,
      reconnectMaxDelayMs: e.RECONNECT_MAX_DELAY_MS,
      connectionWorkers: e.CONNECTION_WORKERS ?? defaultConnectionWorkers(),
      historySync: e.HISTORY_SYNC,
    },
  };
}

/**
 * Why `value` is not a usable `DATABASE_URL`, or `null` when it is. Never echoes the value.
 *
 * @example
 * ```ts
 * databaseUrlProblem("mysql://db/x"); // "the scheme must be postgres:// or postgresql://"
 * ```
 */
export function databaseUrlProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "not a URL";
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    return "the scheme must be postgres:// or postgresql://";
  }
  if (!url.hostname) return "no host";
  return null;
}

/**
 * One worker per core but the main thread's, at least 1, up to 8. With native signature checks a
 * login costs a few ms, and the main thread's share (persistence of every worker's auth files,
 * HTTP) is a core's worth; each worker costs ~57 MiB (its own Baileys) and cross-thread calls. On
 * 2 cores one worker restores as fast as two and keeps an idle gateway under 150 MiB; at least one
 * keeps a Baileys crash from taking the process down (docs/benchmarks.md, "Login CPU").
 */
function defaultConnectionWorkers(): number {
  return Math.max(1, Math.min((navigator.hardwareConcurrency || 1) - 1, 8));
}

/** The host name, made into a valid node id (`node` when it cannot be read). */
function defaultNodeId(): string {
  let name = "";
  try {
    name = Deno.hostname();
  } catch {
    // no --allow-sys=hostname: fall through
  }
  const id = name.replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 64);
  return id || "node";
}

const RotationEnvSchema = z.object({
  OLD_SESSIONS_ENCRYPTION_KEY: encryptionKey.optional(),
  OLD_SESSIONS_ENCRYPTION_KEY_FILE: secretFile.optional(),
});

/** What `deno task rotate-key` needs: the gateway's configuration plus the key being replaced. */
export interface KeyRotationConfig {
  config: Config;
  /** `OLD_SESSIONS_ENCRYPTION_KEY` / `_FILE`; neither means the files are plaintext now. */
  oldKey: SecretSource<Uint8Array>;
}

/**
 * Reads the key rotation's configuration: the new key is the gateway's own
 * `SESSIONS_ENCRYPTION_KEY` (or `_FILE`; neither means decrypt), the old one
 * `OLD_SESSIONS_ENCRYPTION_KEY` (or `_FILE`; neither means the files are plaintext).
 *
 * @example
 * ```ts
 * const { config, oldKey } = loadKeyRotationConfig(Deno.env.toObject());
 * ```
 */
export function loadKeyRotationConfig(env: Record<string, string | undefined>): KeyRotationConfig {
  const config = loadConfig(env);
  const e = parseEnv(RotationEnvSchema, env);
  if (e.OLD_SESSIONS_ENCRYPTION_KEY !== undefined && e.OLD_SESSIONS_ENCRYPTION_KEY_FILE) {
    throw new ConfigError([
      "OLD_SESSIONS_ENCRYPTION_KEY_FILE: set either OLD_SESSIONS_ENCRYPTION_KEY or " +
      "OLD_SESSIONS_ENCRYPTION_KEY_FILE, not both",
    ]);
  }
  return {
    config,
    oldKey: {
      value: e.OLD_SESSIONS_ENCRYPTION_KEY
        ? parseEncryptionKey(e.OLD_SESSIONS_ENCRYPTION_KEY)
        : undefined,
      file: e.OLD_SESSIONS_ENCRYPTION_KEY_FILE,
    },
  };
}

/** Parses the variables `schema` names, empty strings counting as unset; lists every problem. */
function parseEnv<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined>,
): z.infer<S> {
  const present = Object.fromEntries(
    Object.keys(schema.shape)
      .map((key) => [key, env[key]?.trim()])
      .filter(([, value]) => value !== undefined && value !== ""),
  );
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`),
    );
  }
  return parsed.data;
}

function decodeBase64(value: string): Uint8Array | undefined {
  try {
    return Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}
