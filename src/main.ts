/**
 * Composition root: read the configuration, start the gateway, drain on SIGTERM/SIGINT.
 * Run with `deno task start`.
 */
import { ConfigError, loadConfig } from "./config.ts";
import {
  DatabaseUnavailableError,
  DataDirectoryLockedError,
  EncryptionKeyError,
} from "./domain/errors.ts";
import { type Gateway, startGateway } from "./gateway.ts";
import { createLogger } from "./logger.ts";
import type { ConnectionFactory } from "./domain/connection.ts";
import type { Logger } from "./logger.ts";
import type { Config } from "./config.ts";
import type { WhatsAppSettings } from "./whatsapp/baileys_connection_factory.ts";
import { WorkerConnectionFactory } from "./whatsapp/worker_pool/worker_connection_factory.ts";
import { GatewayMetrics } from "./observability/gateway_metrics.ts";
import { type AuthFileCodec, plainCodec } from "./persistence/auth_file_codec.ts";
import { createAesGcmCodec } from "./persistence/encrypted_auth_file.ts";
import { filePersistence } from "./persistence/file_persistence.ts";
import type { Persistence } from "./persistence/persistence.ts";
import { createValueSealer, type ValueSealer } from "./persistence/sealed_value.ts";
import { resolveEncryptionKey } from "./secrets/encryption_key.ts";
import { logSubstitutions } from "./whatsapp/substitution_status.ts";
import { VerificationCounters } from "./whatsapp/native_curve/verification_counters.ts";

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig(Deno.env.toObject());
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel, format: config.logFormat });

  // With STORE=postgres nothing is kept in the data directory.
  const permissionProblem = config.store.kind === "file"
    ? await dataDirPermissionProblem(config.dataDir)
    : null;
  if (permissionProblem) {
    logger.fatal(permissionProblem);
    return 2;
  }

  // Listening for signals from the start: a SIGTERM that arrives while the gateway is still
  // starting (restoring, migrating files) drains it as soon as it is up, instead of killing it.
  const drained = Promise.withResolvers<number>();
  let gateway: Gateway | undefined;
  let connections: ConnectionFactory & { close?(): Promise<void> } | undefined;
  let signalled = false;
  const shutDown = (running: Gateway, deadline: ReturnType<typeof setTimeout>) => {
    running.shutdown().then(async () => {
      await connections?.close?.();
    }).then(
      () => {
        clearTimeout(deadline);
        logger.info("drained; bye");
        drained.resolve(0);
      },
      (error) => {
        clearTimeout(deadline);
        logger.error({ err: error }, "drain failed");
        drained.resolve(1);
      },
    );
  };
  let deadline: ReturnType<typeof setTimeout> | undefined;
  const drain = (signal: Deno.Signal) => {
    if (signalled) return;
    signalled = true;
    logger.info(
      { signal, timeoutMs: config.shutdownTimeoutMs, starting: !gateway },
      gateway ? "draining" : "draining once started",
    );
    deadline = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, "drain deadline passed; exiting");
      drained.resolve(1);
    }, config.shutdownTimeoutMs);
    if (gateway) shutDown(gateway, deadline);
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => drain(signal));
  }

  const started = (async (): Promise<number | null> => {
    try {
      const metrics = new GatewayMetrics();
      connections = await connectionFactory(config, logger, metrics);
      if (config.whatsapp.wsUrl || config.whatsapp.testRootPublicKey) {
        logger.warn(
          { wsUrl: config.whatsapp.wsUrl },
          "WA_WS_URL / WA_TEST_ROOT_PUBKEY are set: connecting to a test server, not WhatsApp",
        );
      }
      const persistence = await openPersistence(config, logger);
      gateway = await startGateway({ config, logger, persistence, connections, metrics });
    } catch (error) {
      if (error instanceof DataDirectoryLockedError) {
        logger.fatal(error.message);
        return 1;
      }
      if (
        error instanceof ConfigError || error instanceof EncryptionKeyError ||
        error instanceof DatabaseUnavailableError
      ) {
        // About keys or the database: their messages name the setting, never a key or password.
        logger.fatal({ code: (error as { code?: string }).code }, error.message);
        return 2;
      }
      throw error;
    }
    if (signalled) shutDown(gateway, deadline!);
    return null;
  })();
  const failed = await Promise.race([started, drained.promise.then(() => null)]);
  if (failed !== null) return failed;
  return await drained.promise;
}

/**
 * The persistence `STORE` picks: the data directory (default) or the PostgreSQL database at
 * `DATABASE_URL`, each with auth files encrypted and secrets sealed when a key is configured.
 * Throws `DatabaseUnavailableError` when the database cannot be used.
 *
 * @example
 * ```ts
 * const gateway = await startGateway({ config, logger, persistence: await openPersistence(config, logger) });
 * ```
 */
export async function openPersistence(config: Config, logger: Logger): Promise<Persistence> {
  const atRest = await encryptionAtRest(config, logger);
  const options = { config, logger, ...atRest };
  if (config.store.kind === "file") return filePersistence(options);
  // Loaded only when used: the PostgreSQL client and store cost the file store's gateway 10 MiB.
  const { postgresPersistence } = await import("./persistence/postgres/postgres_persistence.ts");
  return await postgresPersistence(options, config.store.databaseUrl);
}

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
  logger.info("auth files, webhook secrets and queued events are encrypted at rest (AES-256-GCM)");
  return { codec: await createAesGcmCodec(key), sealer: createValueSealer(key) };
}

/**
 * Where the WhatsApp connections run: in worker threads (a core each but the main thread's by
 * default), or on the main thread with `CONNECTION_WORKERS=0`. Baileys is loaded on the main
 * thread only in the latter case.
 */
async function connectionFactory(
  config: Config,
  logger: Logger,
  metrics: GatewayMetrics,
): Promise<ConnectionFactory & { close?(): Promise<void> }> {
  const settings: WhatsAppSettings = {
    wsUrl: config.whatsapp.wsUrl,
    testRootPublicKey: config.whatsapp.testRootPublicKey,
    baileysLogLevel: config.whatsapp.baileysLogLevel,
    deviceName: config.whatsapp.deviceName,
    historySync: config.whatsapp.historySync,
    backoff: {
      initialDelayMs: config.whatsapp.reconnectInitialDelayMs,
      maxDelayMs: config.whatsapp.reconnectMaxDelayMs,
    },
  };
  // Every thread that runs Baileys counts its signature checks here (see whatsapp/native_curve/).
  const verifications = new VerificationCounters();
  metrics.trackSignatureVerifications(() => verifications.snapshot());
  const onMainThread = async () => {
    const [{ BaileysConnectionFactory }, { installSubstitutions }] = await Promise.all([
      import("./whatsapp/baileys_connection_factory.ts"),
      import("./whatsapp/install_substitutions.ts"),
    ]);
    logSubstitutions(logger, [await installSubstitutions(verifications)]);
    return new BaileysConnectionFactory(settings);
  };
  if (config.whatsapp.connectionWorkers === 0) return await onMainThread();
  logger.info({ workers: config.whatsapp.connectionWorkers }, "starting connection workers");
  const pool = new WorkerConnectionFactory({
    workers: config.whatsapp.connectionWorkers,
    settings: {
      whatsapp: settings,
      log: { level: config.logLevel, format: config.logFormat },
      verificationCounters: verifications.buffer,
    },
    logger,
    fallback: onMainThread,
    onWorkerFailure: metrics.recordConnectionWorkerFailure,
  });
  metrics.trackConnectionWorkers(() => pool.liveWorkers);
  return pool;
}

/** Explains how to grant access when the data directory is outside the permitted paths. */
async function dataDirPermissionProblem(dataDir: string): Promise<string | null> {
  for (const name of ["read", "write"] as const) {
    const status = await Deno.permissions.query({ name, path: dataDir });
    if (status.state !== "granted") {
      return `No ${name} permission for SESSIONS_DATA_PATH=${dataDir}. ` +
        (Deno.build.standalone
          ? "This executable was built for another data directory: build it again with " +
            `SESSIONS_DATA_PATH=${dataDir} deno task compile.`
          : "Start it with deno task start, which grants that directory, or run with " +
            `--allow-read=${dataDir} --allow-write=${dataDir}.`);
    }
  }
  return null;
}

if (import.meta.main) {
  Deno.exit(await main());
}
