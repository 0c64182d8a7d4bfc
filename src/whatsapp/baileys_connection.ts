import { errorMessage } from "../lib/error_message.ts";
import { withTimeout } from "../lib/timeout.ts";
import type makeWASocket from "@whiskeysockets/baileys";
import {
  type BinaryNode,
  type ConnectionState,
  generateMessageIDV2,
  generateWAMessageFromContent,
  jidDecode,
  type SocketConfig,
  type WAMessage,
} from "@whiskeysockets/baileys";
import type {
  ConnectionListener,
  ConnectionOptions,
  ConnectionStatusUpdate,
  SendOptions,
  SessionConnection,
} from "../domain/connection.ts";
import {
  InsufficientStorageError,
  QrNotAvailableError,
  SessionStateError,
  ValidationError,
  WhatsAppRequestError,
} from "../domain/errors.ts";
import {
  isMediaMessage,
  type MessageStatus,
  type NumberCheck,
  type OutgoingMediaMessage,
  type OutgoingMessage,
  type SentMessage,
} from "../domain/message.ts";
import type { AuthFiles } from "../domain/session_store.ts";
import type { Logger } from "../logger.ts";
import { type DurableAuthState, openAuthState } from "./auth_state.ts";
import { classifyDisconnect } from "./disconnect_reason.ts";
import { backoffDelay, type BackoffOptions } from "../lib/backoff.ts";
import { KeyedLock } from "../lib/keyed_lock.ts";
import { MessageRecorder } from "./message_recorder.ts";
import { storedMessageLookup } from "./stored_messages.ts";
import { MessageActivityWatcher } from "./message_activity_watcher.ts";
import { performAction } from "./message_actions.ts";
import type { MessageAction } from "../domain/message_activity.ts";
import {
  fromWAMessage,
  quotedMessage,
  statusFromBaileys,
  toBaileysContent,
} from "./message_content.ts";
import { mediaContent } from "./media_message.ts";
import { uploadStagedMedia } from "./media_upload.ts";
import type { AccountOperation } from "../domain/account_operations.ts";
import { AccountFeatures } from "./account/account_features.ts";

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
  /** Whether old messages from history sync go into the message store (`HISTORY_SYNC=full`). */
  importHistory?: boolean;
  /** How long a send waits for the server's ack before answering `pending` (default 10 s). */
  ackTimeoutMs?: number;
  /** How long a media upload may take (default 10 min). */
  mediaUploadTimeoutMs?: number;
  /**
   * Serializes sends to one recipient across every connection of one libsignal instance (shared
   * by the factory; see `sendMessage`). Default: one per connection.
   */
  recipientLocks?: KeyedLock;
}

/** How long `stop()` waits for Baileys to report the socket closed. */
const CLOSE_TIMEOUT_MS = 5_000;
/** Recent messages kept so that a reply or reaction can refer to them by id. */
const RECENT_MESSAGES = 1_000;

/**
 * One session's WhatsApp connection on a Baileys socket. It rebuilds the socket when WhatsApp
 * asks for a restart (515, right after pairing), reconnects with backoff when the connection is
 * lost, and stops for good when the device is logged out, replaced, or refused.
 */
export class BaileysConnection implements SessionConnection {
  readonly #auth: AuthFiles;
  readonly #recipientLocks: KeyedLock;
  readonly #logger: Logger;
  readonly #listener: ConnectionListener;
  readonly #options: BaileysConnectionOptions;
  readonly #recorder: MessageRecorder;
  readonly #activity: MessageActivityWatcher;
  readonly #features: AccountFeatures;

  #authState?: DurableAuthState;
  #socket?: WASocket;
  #socketClosed?: PromiseWithResolvers<void>;
  #reconnectTimer?: ReturnType<typeof setTimeout>;
  #attempt = 0;
  #badSessionStreak = 0;
  #qr: string | null = null;
  /** Whether the current socket is open and logged in. */
  #online = false;
  /** Set once `stop`/`logout` was called or the connection ended for good. */
  #finished = false;
  /** Recently sent and received messages by id (oldest first), to quote or react to. */
  readonly #recent = new Map<string, WAMessage>();
  /** Sends waiting for the server's ack, by message id. */
  readonly #acks = new Map<string, (status: MessageStatus) => void>();

  constructor(options: BaileysConnectionOptions) {
    this.#auth = options.auth;
    this.#recipientLocks = options.recipientLocks ?? new KeyedLock();
    this.#logger = options.logger;
    this.#listener = options.listener;
    this.#options = options;
    this.#recorder = new MessageRecorder(options.messages, options.logger);
    this.#activity = new MessageActivityWatcher({
      messages: options.messages,
      recorder: this.#recorder,
      listener: options.listener,
      logger: options.logger,
    });
    this.#features = new AccountFeatures(
      (event) => this.#guard(() => this.#listener.onAccountEvent(event)),
      options.logger,
    );
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

  async sendMessage(
    to: string,
    message: OutgoingMessage,
    options: SendOptions = {},
  ): Promise<SentMessage> {
    const socket = this.#requireOnline();
    const messageId = options.messageId ?? generateMessageIDV2(socket.user?.id);
    const acked = Promise.withResolvers<MessageStatus>();
    this.#acks.set(messageId, acked.resolve);
    try {
      // A file is uploaded before the recipient's lock: only the encryption needs it.
      const send = isMediaMessage(message)
        ? await this.#prepareMedia(socket, to, message, messageId)
        : () => {
          const recall = (id: string) => this.#recent.get(id);
          const { content, quoted } = toBaileysContent(to, message, recall);
          return socket.sendMessage(to, content, { messageId, ...(quoted ? { quoted } : {}) });
        };
      let sent: WAMessage | undefined;
      try {
        // libsignal runs Signal operations per remote address in one queue per module instance,
        // while Baileys keeps a socket's key transaction in AsyncLocalStorage: a job one session
        // queued behind another's runs in the other's async context and misses its own
        // uncommitted keys ("No sessions", reused message counters). One send per recipient at
        // a time keeps every session's encryption in its own context.
        sent = await this.#recipientLocks.run(jidDecode(to)?.user ?? to, send);
      } catch (error) {
        throw new WhatsAppRequestError(
          `WhatsApp did not take the message: ${errorMessage(error)}`,
          { cause: error },
        );
      }
      if (sent) {
        this.#remember(sent);
        // Stored before the send is answered, so that a retry receipt finds it.
        await this.#recorder.recordSent(sent, socket.user?.id);
      }
      // Answer once the server has it (or says no); a slow ack leaves it `pending`.
      const status = await withTimeout(
        acked.promise,
        this.#options.ackTimeoutMs ?? 10_000,
        (): MessageStatus => "pending",
      );
      const seconds = Number(sent?.messageTimestamp ?? Math.floor(Date.now() / 1000));
      return { id: messageId, to, status, timestamp: new Date(seconds * 1000).toISOString() };
    } finally {
      this.#acks.delete(messageId);
    }
  }

  async perform(action: MessageAction): Promise<void> {
    const socket = this.#requireOnline();
    try {
      await performAction(socket, action, this.#options.messages);
    } catch (error) {
      if (error instanceof ValidationError) throw error;
      throw new WhatsAppRequestError(
        `WhatsApp did not take the ${action.kind}: ${errorMessage(error)}`,
        { cause: error },
      );
    }
  }

  /**
   * Uploads a staged file and returns the send of the message pointing at it, done the way
   * `socket.sendMessage` does (relay, then report it as our own message).
   */
  async #prepareMedia(
    socket: WASocket,
    to: string,
    message: OutgoingMediaMessage,
    messageId: string,
  ): Promise<() => Promise<WAMessage>> {
    const uploaded = await uploadStagedMedia(
      socket,
      message.type,
      message.media,
      this.#options.mediaUploadTimeoutMs ?? 600_000,
    );
    const quoted = message.quotedMessageId
      ? quotedMessage(to, message.quotedMessageId, (id) => this.#recent.get(id))
      : undefined;
    const full = generateWAMessageFromContent(to, mediaContent(message, uploaded), {
      userJid: socket.user!.id,
      messageId,
      ...(quoted ? { quoted } : {}),
    });
    return async () => {
      await socket.relayMessage(to, full.message!, { messageId });
      await socket.upsertMessage(full, "append");
      return full;
    };
  }

  async run(operation: AccountOperation): Promise<unknown> {
    return await this.#features.run(this.#requireOnline(), operation);
  }

  async requestPairingCode(phoneNumber: string): Promise<string> {
    const socket = this.#socket;
    if (!socket || !this.#qr) {
      throw new QrNotAvailableError("No login is pending on this connection");
    }
    try {
      return await socket.requestPairingCode(phoneNumber);
    } catch (error) {
      throw new WhatsAppRequestError(
        `WhatsApp did not issue a pairing code: ${errorMessage(error)}`,
        { cause: error },
      );
    }
  }

  async checkNumbers(phoneNumbers: string[]): Promise<NumberCheck[]> {
    const socket = this.#requireOnline();
    let found: { jid: string; exists: boolean }[] | undefined;
    try {
      found = await socket.onWhatsApp(...phoneNumbers.map((n) => `${n}@s.whatsapp.net`));
    } catch (error) {
      throw new WhatsAppRequestError(
        `WhatsApp did not answer the number check: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    const byNumber = new Map<string, string>();
    for (const result of found ?? []) {
      const user = jidDecode(result.jid)?.user;
      if (user && result.exists) byNumber.set(user, result.jid);
    }
    return phoneNumbers.map((phoneNumber) => {
      const jid = byNumber.get(phoneNumber) ?? null;
      return { phoneNumber, exists: jid !== null, jid };
    });
  }

  #requireOnline(): WASocket {
    const socket = this.#socket;
    if (!socket || !this.#online || this.#finished) {
      throw new SessionStateError("The WhatsApp connection is not open", "session_not_connected");
    }
    return socket;
  }

  #remember(message: WAMessage): void {
    const id = message.key?.id;
    if (!id) return;
    this.#recent.delete(id);
    this.#recent.set(id, message);
    if (this.#recent.size > RECENT_MESSAGES) this.#recent.delete(this.#recent.keys().next().value!);
  }

  /** Wires the socket's message events to the listener; never waits on the listener. */
  #listenForMessages(socket: WASocket): void {
    socket.ev.on("messages.upsert", ({ messages, type }) => {
      this.#logger.debug(
        {
          type,
          messages: messages.map((m) => ({
            id: m.key?.id,
            fromMe: m.key?.fromMe,
            status: m.status,
          })),
        },
        "messages.upsert",
      );
      if (socket !== this.#socket) return;
      if (type === "append") {
        // Baileys re-emits what we sent as an "append"; while its event buffer is on, receipts
        // that arrive meanwhile are merged into that message instead of a `messages.update`.
        for (const message of messages) this.#reportMergedStatus(message);
        return;
      }
      if (type !== "notify") return;
      // Reported in order, each once it is stored.
      this.#recorder.recordReceived(messages, socket.user?.id, () => {
        if (socket !== this.#socket) return;
        for (const message of messages) {
          if (message.key?.fromMe) continue;
          const incoming = fromWAMessage(message);
          if (!incoming) continue;
          this.#remember(message);
          this.#guard(() => this.#listener.onMessage(incoming));
        }
      });
    });
    socket.ev.on("messages.update", (updates) => {
      this.#logger.debug({ updates }, "messages.update");
      if (socket !== this.#socket) return;
      for (const { key, update } of updates) {
        const status = statusFromBaileys(update.status);
        // Only receipts about messages this account sent: the others are its own reads.
        if (!status || !key.fromMe || !key.id || !key.remoteJid) continue;
        const id = key.id;
        const chat = key.remoteJid;
        this.#guard(() => this.#listener.onMessageStatus({ id, chat, status }));
      }
    });
    if (this.#options.importHistory) {
      socket.ev.on("messaging-history.set", ({ messages }) => {
        if (socket === this.#socket) this.#recorder.recordHistory(messages, socket.user?.id);
      });
    }
    socket.ws.on("CB:ack,class:message", (node: BinaryNode) => {
      const id = node.attrs.id;
      if (id) this.#acks.get(id)?.(node.attrs.error ? "failed" : "sent");
    });
  }

  #reportMergedStatus(message: WAMessage): void {
    const { id, remoteJid, fromMe } = message.key ?? {};
    const status = statusFromBaileys(message.status);
    if (!fromMe || !id || !remoteJid || !this.#recent.get(id)?.key?.fromMe) return;
    if (!status || status === "pending" || status === "sent") return;
    this.#guard(() => this.#listener.onMessageStatus({ id, chat: remoteJid, status }));
  }

  #guard(report: () => void): void {
    try {
      report();
    } catch (error) {
      this.#logger.error({ err: error }, "connection listener failed");
    }
  }

  #connect(): void {
    if (this.#finished || !this.#authState) return;
    const authState = this.#authState;
    // A pairing code that was asked for but never used leaves `creds.me` set, which would make
    // Baileys log in instead of registering: start the link over instead.
    authState.discardUnfinishedLink();
    this.#report({ status: "connecting" });
    const socket = this.#options.makeSocket({
      ...this.#options.socketConfig,
      auth: authState.state,
      logger: this.#options.baileysLogger,
      getMessage: storedMessageLookup(this.#options.messages, this.#logger),
      ...this.#features.socketConfig(() => this.#socket),
    });
    this.#socket = socket;
    this.#socketClosed = Promise.withResolvers<void>();

    socket.ev.on("creds.update", (update) => {
      authState.saveCreds().catch((error) => {
        // A full disk is logged once by the store; the credentials are kept and written later.
        const level = error instanceof InsufficientStorageError ? "debug" : "error";
        this.#logger[level]({ err: error }, "saving credentials failed");
      });
      if (update.me?.name && this.#socket === socket && !this.#qr) {
        // The update may come before the socket's own copy of the credentials has it.
        const account = this.#account(socket);
        this.#report({
          status: "connected",
          account: account && { ...account, pushName: update.me.name },
        });
      }
    });
    socket.ev.on("connection.update", (update) => this.#onConnectionUpdate(socket, update));
    this.#listenForMessages(socket);
    this.#activity.watch(socket, () => socket === this.#socket);
    this.#features.watch(socket, () => socket === this.#socket);
  }

  #onConnectionUpdate(socket: WASocket, update: Partial<ConnectionState>): void {
    if (update.connection === "close") {
      if (socket === this.#socket) {
        this.#socket = undefined;
        this.#online = false;
      }
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
      this.#online = true;
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
    try {
      await withTimeout(
        (async () => {
          await close(socket);
          await closed;
        })(),
        CLOSE_TIMEOUT_MS,
        () => this.#logger.warn("socket did not report closing in time"),
      );
    } finally {
      this.#socket = undefined;
      this.#online = false;
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
