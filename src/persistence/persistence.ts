import type { Config } from "../config.ts";
import type { EventRelay } from "../domain/event_relay.ts";
import type { MessageStore } from "../domain/message_store.ts";
import type { ClusterSignals } from "../ownership/cluster_signals.ts";
import type { SessionStore } from "../domain/session_store.ts";
import type { WebhookOutbox } from "../domain/webhook_outbox.ts";
import type { Logger } from "../logger.ts";
import type { LeaseLock } from "../ownership/lease_lock.ts";
import type { NodeRegistry } from "../ownership/node_registry.ts";
import type { ResolvedApiKey } from "../secrets/api_key.ts";
import type { AuthFileCodec } from "./auth_file_codec.ts";
import type { ValueSealer } from "./sealed_value.ts";

/**
 * Everything a gateway keeps, from one backend: the data directory (`STORE=file`) or a
 * PostgreSQL database shared by several nodes (`STORE=postgres`). The composition root
 * (`src/main.ts`) picks one; the gateway only orders its startup and shutdown.
 */
export interface Persistence {
  readonly kind: "file" | "postgres";
  /** Where the data lives, for the startup log (a path, or the database without credentials). */
  readonly location: string;
  /**
   * This node's own folder, for files no other node needs: media being sent and downloaded media
   * (`.media/`). The data directory, with either backend.
   */
  readonly localDir: string;
  store: SessionStore;
  outbox: WebhookOutbox;
  /** Each session's recent messages and idempotency records (opened by the gateway). */
  messages: MessageStore;
  /** This node's session leases. */
  leases: LeaseLock;
  nodes: NodeRegistry;
  /** Nudges between nodes (only where there are several). */
  signals?: ClusterSignals;
  /** The live stream's events between nodes (only where there are several). */
  relay?: EventRelay;
  /**
   * The generated API key, for when neither `API_KEY` nor `API_KEY_FILE` is set. Call it after
   * the store is open (it lives beside the data: under the lock, or in the database).
   */
  generatedApiKey(): Promise<ResolvedApiKey>;
  /** Releases what the store and the outbox do not (the database's connections). */
  close(): Promise<void>;
}

/** What every backend is opened with. */
export interface PersistenceOptions {
  config: Config;
  logger: Logger;
  /** How auth files are stored (encrypted with a key). */
  codec: AuthFileCodec;
  /** Seals webhook secrets and queued events (with a key). */
  sealer?: ValueSealer;
}

const DAY_MS = 86_400_000;

/** The message store's retention, from `MESSAGE_RETENTION_DAYS` and `MESSAGE_STORE_MAX_BYTES`. */
export function messageRetention(config: Config): { maxAgeMs: number; maxBytesPerSession: number } {
  return {
    maxAgeMs: config.messageStore.retentionDays * DAY_MS,
    maxBytesPerSession: config.messageStore.maxBytesPerSession,
  };
}
