import { z } from "zod";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

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
});

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
  metricsEnabled: boolean;
  whatsapp: {
    wsUrl?: string;
    testRootPublicKey?: Uint8Array;
    baileysLogLevel: (typeof LOG_LEVELS)[number];
    deviceName: string;
    reconnectInitialDelayMs: number;
    reconnectMaxDelayMs: number;
  };
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
  const present = Object.fromEntries(
    Object.keys(EnvSchema.shape)
      .map((key) => [key, env[key]?.trim()])
      .filter(([, value]) => value !== undefined && value !== ""),
  );
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`),
    );
  }
  const e = parsed.data;
  if (e.RECONNECT_MAX_DELAY_MS < e.RECONNECT_INITIAL_DELAY_MS) {
    throw new ConfigError([
      `RECONNECT_MAX_DELAY_MS: must be at least RECONNECT_INITIAL_DELAY_MS (${e.RECONNECT_INITIAL_DELAY_MS})`,
    ]);
  }
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: e.SESSIONS_DATA_PATH,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    maxBodyBytes: e.MAX_BODY_BYTES,
    restoreConcurrency: e.RESTORE_CONCURRENCY,
    metricsEnabled: e.METRICS_ENABLED === "true" || e.METRICS_ENABLED === "1",
    whatsapp: {
      wsUrl: e.WA_WS_URL,
      testRootPublicKey: e.WA_TEST_ROOT_PUBKEY ? decodeBase64(e.WA_TEST_ROOT_PUBKEY)! : undefined,
      baileysLogLevel: e.BAILEYS_LOG_LEVEL,
      deviceName: e.WA_DEVICE_NAME,
      reconnectInitialDelayMs: e.RECONNECT_INITIAL_DELAY_MS,
      reconnectMaxDelayMs: e.RECONNECT_MAX_DELAY_MS,
    },
  };
}

function decodeBase64(value: string): Uint8Array | undefined {
  try {
    return Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}
