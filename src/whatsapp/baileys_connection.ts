import type makeWASocket from "@whiskeysockets/baileys";
import {
  type AnyMessageContent,
  type ConnectionState,
  jidDecode,
  type SocketConfig,
  type WAMessage,
  type WAMessageKey,
} from "@whiskeysockets/baileys";
import type {
  ConnectionListener,
  ConnectionOptions,
  ConnectionStatusUpdate,
  SessionConnection,
} from "../domain/connection.ts";
import type { OutgoingMessage, SentMessage } from "../domain/message.ts";
import type { AuthFiles } from "../domain/session_store.ts";
import type { Logger } from "../logger.ts";
import { type DurableAuthState, openAuthState } from "./auth_state.ts";
import { classifyDisconnect } from "./disconnect_reason.ts";
import { backoffDelay, type BackoffOptions } from "./reconnect_policy.ts";

export type WASocket = ReturnType<typeof makeWASocket>;
export type MakeSocket = (config: Partial<SocketConfig> & Pick<SocketConfig, "auth">) => WASocket;

export interface BaileysConnectionOptions extends ConnectionOptions {
  makeSocket: MakeSocket;
  /** Socket options shared by every session (URL, browser, timeouts). */
  socketConfig: Partial<SocketConfig>;
  /** The logger Baileys itself writes to (quieter than ours by default). */
  baileysLogger: Logger;
  backoff: BackoffOptions;
  /** Consecutive `bad session` closes after which the session is marked failed. */
  maxBadSessionRetries?: number;
  authCacheLimit?: number;
}

/** Baileys' `proto.WebMessageInfo.Status` numbers, in our words. */
const MESSAGE_STATUS: Record<number, SentMessage["status"] | undefined> = {
  0: "error",
  1: "pending",
  2: "server_ack",
  3: "delivered",
  4: "read",
  5: "read", // played
};

/** How long `stop()` waits for Baileys to report the socket closed. */
const CLOSE_TIMEOUT_MS = 5_000;

/**
 * One session's WhatsApp connection on a Baileys socket. It rebuilds the socket when WhatsApp
 * asks for a restart (515, right after pairing), reconnects with backoff when the connection is
 * lost, and stops for good when the device is logged out, replaced, or refused.
 */
export class BaileysConnection implements SessionConnection {
  readonly #auth: AuthFiles;
  readonly #logger: Logger;
  readonly #listener: ConnectionListener;
  readonly #options: BaileysConnectionOptions;

  #authState?: DurableAuthState;
  #socket?: WASocket;
  #socketClosed?: PromiseWithResolvers<void>;
  #reconnectTimer?: ReturnType<typeof setTimeout>;
  #attempt = 0;
  #badSessionStreak = 0;
  #qr: string | null = null;
  /** Set once `stop`/`logout` was called or the connection ended for good. */
  #finished = false;

  constructor(options: BaileysConnectionOptions) {
    this.#auth = options.auth;
    this.#logger = options.logger;
    this.#listener = options.listener;
    this.#options = options;
  }

  get qr(): string | null {
    return this.#qr;
  }

  async start(): Promise<void> {
    if (this.#authState) return;
    this.#authState = await openAuthState(this.#auth, {
      logger: this.#logger,
      cacheLimit: this.#options.authCacheLimit,
    });
    this.#connect();
  }

  async stop(): Promise<void> {
    this.#finished = true;
    clearTimeout(this.#reconnectTimer);
    await this.#closeSocket((socket) => socket.end(undefined));
    await this.#authState?.close();
  }

  async logout(): Promise<void> {
    this.#finished = true;
    clearTimeout(this.#reconnectTimer);
    await this.#closeSocket(async (socket) => {
      try {
        await socket.logout();
      } catch (error) {
        this.#logger.warn({ err: error }, "logout request failed; closing anyway");
        await socket.end(undefined);
      }
    });
    await this.#authState?.close();
  }

  async sendMessage(to: string, message: OutgoingMessage): Promise<SentMessage> {
    const socket = this.#socket;
    if (!socket) throw new Error("not connected");
    const quoted = message.type === "text" && message.quotedMessageId
      // Baileys quotes a stored message; a stub with the id is enough for WhatsApp to link it.
      ? { quoted: { key: { remoteJid: to, id: message.quotedMessageId }, message: {} } }
      : {};
    const sent = await socket.sendMessage(to, toBaileysContent(to, message), quoted);
    if (!sent?.key.id) throw new Error("WhatsApp did not accept the message");
    return {
      id: sent.key.id,
      to,
      status: "pending",
      timestamp: new Date(Number(sent.messageTimestamp ?? 0) * 1000 || Date.now()).toISOString(),
    };
  }

  #connect(): void {
    if (this.#finished || !this.#authState) return;
    const authState = this.#authState;
    this.#report({ status: "connecting" });
    const socket = this.#options.makeSocket({
      ...this.#options.socketConfig,
      auth: authState.state,
      logger: this.#options.baileysLogger,
    });
    this.#socket = socket;
    this.#socketClosed = Promise.withResolvers<void>();

    socket.ev.on("creds.update", (update) => {
      authState.saveCreds().catch((error) => {
        this.#logger.error({ err: error }, "saving credentials failed");
      });
      if (update.me?.name && this.#socket === socket && !this.#qr) {
        this.#report({ status: "connected", account: this.#account(socket) });
      }
    });
    socket.ev.on("connection.update", (update) => this.#onConnectionUpdate(socket, update));
    socket.ev.on("messages.upsert", ({ messages, type }) => {
      for (const message of messages) {
        if (message.key.fromMe) {
          this.#reportStatus(message.key, message.status);
        } else if (type === "notify") {
          this.#reportReceived(message);
        }
      }
    });
    socket.ev.on("messages.update", (updates) => {
      for (const { key, update } of updates) {
        if (key.fromMe) this.#reportStatus(key, update.status);
      }
    });
  }

  #onConnectionUpdate(socket: WASocket, update: Partial<ConnectionState>): void {
    if (update.connection === "close") {
      if (socket === this.#socket) this.#socket = undefined;
      this.#socketClosed?.resolve();
      if (!this.#finished) this.#onClose(update);
      return;
    }
    if (socket !== this.#socket || this.#finished) return;
    if (update.qr) {
      this.#qr = update.qr;
      this.#report({ status: "qr" });
      this.#listener.onQr(update.qr);
    }
    if (update.connection === "open") {
      this.#qr = null;
      this.#attempt = 0;
      this.#badSessionStreak = 0;
      this.#report({ status: "connected", account: this.#account(socket) });
    }
  }

  #onClose(update: Partial<ConnectionState>): void {
    this.#qr = null;
    const error = update.lastDisconnect?.error as
      | { output?: { statusCode?: number }; message?: string }
      | undefined;
    const code = error?.output?.statusCode;
    const message = error?.message?.slice(0, 500) ?? null;
    const { action, reason } = classifyDisconnect(code);
    const disconnect = { code: code ?? null, reason, message };
    const linked = this.#authState?.linked ?? false;
    this.#logger.info({ code, reason, action, linked }, "connection closed");

    if (action === "restart") {
      this.#connect();
      return;
    }
    if (action === "logged_out") {
      this.#end({ status: "logged_out", disconnect });
      return;
    }
    if (action === "replaced") {
      this.#end({ status: "disconnected", disconnect });
      return;
    }
    if (action === "fatal") {
      this.#end({ status: "failed", disconnect });
      return;
    }
    if (!linked && code === 408) {
      // Every QR expired without being scanned: stop instead of showing QR codes forever.
      this.#end({ status: "failed", disconnect: { ...disconnect, reason: "qr_timeout" } });
      return;
    }
    if (reason === "bad_session") {
      this.#badSessionStreak++;
      if (this.#badSessionStreak > (this.#options.maxBadSessionRetries ?? 5)) {
        this.#end({ status: "failed", disconnect });
        return;
      }
    }
    this.#attempt++;
    const delay = backoffDelay(this.#attempt, this.#options.backoff);
    this.#logger.info({ attempt: this.#attempt, delayMs: delay }, "reconnecting");
    this.#report({ status: "reconnecting", disconnect });
    this.#reconnectTimer = setTimeout(() => this.#connect(), delay);
  }

  /** Ends the connection for good and reports why, once pending credential writes are durable. */
  #end(update: ConnectionStatusUpdate): void {
    this.#finished = true;
    const authState = this.#authState;
    (async () => {
      try {
        await authState?.close();
      } catch (error) {
        this.#logger.error({ err: error }, "flushing credentials failed");
      }
      this.#report(update);
    })();
  }

  async #closeSocket(close: (socket: WASocket) => Promise<void>): Promise<void> {
    const socket = this.#socket;
    if (!socket) return;
    const closed = this.#socketClosed?.promise;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        (async () => {
          await close(socket);
          await closed;
        })(),
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            this.#logger.warn("socket did not report closing in time");
            resolve();
          }, CLOSE_TIMEOUT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.#socket = undefined;
    }
  }

  #reportReceived(message: WAMessage): void {
    const id = message.key.id;
    const from = message.key.remoteJid;
    if (!id || !from || !message.message) return;
    const content = message.message;
    const text = content.conversation ?? content.extendedTextMessage?.text ?? null;
    const seconds = Number(message.messageTimestamp ?? 0);
    try {
      this.#listener.onMessage({
        id,
        from,
        fromAlt: message.key.remoteJidAlt ?? null,
        pushName: message.pushName ?? null,
        text,
        kind: Object.keys(content).find((k) => k !== "messageContextInfo") ?? "unknown",
        timestamp: new Date(seconds ? seconds * 1000 : Date.now()).toISOString(),
      });
    } catch (error) {
      this.#logger.error({ err: error }, "message listener failed");
    }
  }

  #reportStatus(key: WAMessageKey, status: number | null | undefined): void {
    const mapped = typeof status === "number" ? MESSAGE_STATUS[status] : undefined;
    if (!mapped || !key.id || !key.remoteJid) return;
    try {
      this.#listener.onMessageStatus({ id: key.id, to: key.remoteJid, status: mapped });
    } catch (error) {
      this.#logger.error({ err: error }, "message status listener failed");
    }
  }

  #account(socket: WASocket): ConnectionStatusUpdate["account"] {
    const user = socket.user;
    const phoneNumber = user?.id ? jidDecode(user.id)?.user : undefined;
    if (!phoneNumber) return undefined;
    return { phoneNumber, pushName: user?.name ?? null };
  }

  #report(update: ConnectionStatusUpdate): void {
    try {
      this.#listener.onStatus(update);
    } catch (error) {
      this.#logger.error({ err: error }, "connection listener failed");
    }
  }
}

/** Our message shapes in Baileys' terms. */
function toBaileysContent(to: string, message: OutgoingMessage): AnyMessageContent {
  switch (message.type) {
    case "text":
      return { text: message.text };
    case "location":
      return {
        location: {
          degreesLatitude: message.latitude,
          degreesLongitude: message.longitude,
          name: message.name,
        },
      };
    case "reaction":
      return {
        react: {
          text: message.emoji,
          key: { remoteJid: to, id: message.messageId, fromMe: message.fromMe },
        },
      };
  }
}
