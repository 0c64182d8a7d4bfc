import { Buffer } from "node:buffer";
import makeWASocket, { proto, type SocketConfig, WA_CERT_DETAILS } from "@whiskeysockets/baileys";
import type {
  ConnectionFactory,
  ConnectionOptions,
  SessionConnection,
} from "../domain/connection.ts";
import type { Logger } from "../logger.ts";
import { BaileysConnection, type MakeSocket } from "./baileys_connection.ts";
import type { BackoffOptions } from "../lib/backoff.ts";
import { KeyedLock } from "../lib/keyed_lock.ts";

export interface WhatsAppSettings {
  /** Overrides WhatsApp's WebSocket URL (test and staging only). */
  wsUrl?: string;
  /** Replaces the root key that must sign the server's certificate (test and staging only). */
  testRootPublicKey?: Uint8Array;
  /** Level of Baileys' own log lines. */
  baileysLogLevel: string;
  /** Shown on the phone under "Linked devices". */
  deviceName: string;
  backoff: BackoffOptions;
  /** `full` imports old chats into the message store; `off` (default) only what Baileys needs. */
  historySync?: "off" | "full";
}

const HistorySyncType = proto.HistorySync.HistorySyncType;
/**
 * The history Baileys needs even when old chats are not wanted: the initial LID mappings and
 * contacts (without them it warns of "instability and session errors") and push names. Recent
 * and full history stay off: Baileys then neither waits for them at login nor downloads them.
 */
const ESSENTIAL_HISTORY: ReadonlySet<number> = new Set([
  HistorySyncType.INITIAL_BOOTSTRAP,
  HistorySyncType.PUSH_NAME,
  HistorySyncType.NON_BLOCKING_DATA,
]);

/**
 * Builds Baileys connections with the gateway's socket settings. It never asks the internet for
 * the current WhatsApp Web version: the version bundled with Baileys is used.
 */
export class BaileysConnectionFactory implements ConnectionFactory {
  readonly #settings: WhatsAppSettings;
  readonly #socketConfig: Partial<SocketConfig>;
  readonly #makeSocket: MakeSocket;
  /** One per thread that runs connections (libsignal is loaded once per thread): see `BaileysConnectionOptions.recipientLocks`. */
  readonly #recipientLocks = new KeyedLock();

  constructor(settings: WhatsAppSettings, makeSocket: MakeSocket = makeWASocket) {
    this.#settings = settings;
    this.#makeSocket = makeSocket;
    if (settings.testRootPublicKey) {
      // The equivalent of trusting a test CA; it must be the module instance that makes sockets.
      WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(settings.testRootPublicKey);
    }
    this.#socketConfig = {
      ...(settings.wsUrl ? { waWebSocketUrl: settings.wsUrl } : {}),
      browser: [settings.deviceName, "Chrome", "1.0.0"],
      // Stay "offline" so the phone keeps getting notifications. Only the history Baileys needs
      // is synced, unless HISTORY_SYNC=full: a gateway relays new messages.
      markOnlineOnConnect: false,
      syncFullHistory: settings.historySync === "full",
      shouldSyncHistoryMessage: settings.historySync === "full"
        ? () => true
        : ({ syncType }) =>
          syncType !== null && syncType !== undefined &&
          ESSENTIAL_HISTORY.has(syncType),
      generateHighQualityLinkPreview: false,
    };
  }

  create(options: ConnectionOptions): SessionConnection {
    return new BaileysConnection({
      ...options,
      makeSocket: this.#makeSocket,
      socketConfig: this.#socketConfig,
      baileysLogger: options.logger.child(
        { component: "baileys" },
        { level: this.#settings.baileysLogLevel },
      ) as Logger,
      backoff: this.#settings.backoff,
      importHistory: this.#settings.historySync === "full",
      recipientLocks: this.#recipientLocks,
    });
  }
}
