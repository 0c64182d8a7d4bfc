import { errorMessage } from "../lib/error_message.ts";
import { withTimeout } from "../lib/timeout.ts";
import type { Logger } from "../logger.ts";
import { KeyedLock } from "../lib/keyed_lock.ts";
import type {
  ConnectionFactory,
  ConnectionStatusUpdate,
  SendOptions,
  SessionConnection,
} from "./connection.ts";
import {
  InvalidSessionIdError,
  QrNotAvailableError,
  SessionAlreadyExistsError,
  SessionNotFoundError,
  SessionStateError,
  ShuttingDownError,
  ValidationError,
} from "./errors.ts";
import type { EventBus, NewGatewayEvent } from "./events.ts";
import type { MessageActivity } from "./message_activity.ts";
import type {
  IncomingMessage,
  MessageStatusUpdate,
  NumberCheck,
  OutgoingMessage,
  SentMessage,
} from "./message.ts";
import { MessageStatusTracker } from "./message_status_tracker.ts";
import {
  type ChatSummary,
  type HistoryRequest,
  type MessageStore,
  type Page,
  type PageRequest,
  sessionMessages,
  type StoredMessage,
} from "./message_store.ts";
import { publicSession, type SessionRecord, type SessionStatus } from "./session.ts";
import { isSessionId, type SessionId } from "./session_id.ts";
import type {
  SessionReportChange,
  SessionSpecChange,
  SessionStore,
  StoreLoadReport,
} from "./session_store.ts";
import { type Fence, singleOwnerFence } from "./fence.ts";
import { MASKED_SECRET, type Webhook, webhookHostProblem } from "./webhook.ts";

export interface SessionManagerOptions {
  store: SessionStore;
  logger: Logger;
  events: EventBus;
  /** Opens WhatsApp connections. Without it, sessions are metadata only (no sockets). */
  connections?: ConnectionFactory;
  /** Keeps each session's messages (opened and closed by the caller). Without it none are kept. */
  messages?: MessageStore;
  /** How many restored sessions may be logging in at once. */
  restoreConcurrency?: number;
  /** The only hosts session webhooks may point at (`WEBHOOK_ALLOWED_HOSTS`); empty allows any. */
  webhookAllowedHosts?: readonly string[];
  /** How long one restored session may take to settle before its restore slot is freed. */
  restoreSettleTimeoutMs?: number;
  /** How many sent messages' statuses are remembered (in memory) to match receipts. */
  trackedMessages?: number;
  clock?: () => Date;
  newId?: () => string;
  /**
   * The fence this node writes a session's report and auth files under. Defaults to the single
   * owner's (the file store owns every session); the ownership loop gives the lease's.
   */
  fenceOf?: (id: SessionId) => Fence;
}

export interface CreateSessionInput {
  /** Caller-chosen id; a UUID when absent. */
  id?: string;
  name?: string | null;
  webhooks?: Webhook[];
}

export interface UpdateSessionInput {
  name?: string | null;
  /**
   * Replaces the session's webhooks. A secret given as `MASKED_SECRET` keeps the secret of the
   * webhook with the same URL, so a caller can send back what it read.
   */
  webhooks?: Webhook[];
}

/** What `restore()` did, for logging and for the startup banner. */
export interface RestoreReport {
  load: StoreLoadReport;
  restored: SessionId[];
  /** Metadata entries dropped because their session had no credentials left. */
  cleanedUp: SessionId[];
  /** Auth folders without metadata that became sessions. */
  adopted: SessionId[];
}

/** Restore progress, as `/ready` reports it. */
export interface Readiness {
  ready: boolean;
  restoreStarted: boolean;
  total: number;
  settled: number;
}

/** Statuses after which a restored session no longer holds up readiness. */
const SETTLED: ReadonlySet<SessionStatus> = new Set([
  "connected",
  "qr",
  "reconnecting",
  "disconnected",
  "logged_out",
  "failed",
]);

/**
 * Owns every session: its metadata (persisted through the `SessionStore` on every change), its
 * connection (through the `ConnectionFactory` port) and its lifecycle. Lifecycle operations on one
 * session are serialised; different sessions proceed in parallel.
 */
export class SessionManager {
  readonly #store: SessionStore;
  readonly #logger: Logger;
  readonly #events: EventBus;
  readonly #connections?: ConnectionFactory;
  readonly #messages?: MessageStore;
  readonly #clock: () => Date;
  readonly #newId: () => string;
  readonly #restoreConcurrency: number;
  readonly #restoreSettleTimeoutMs: number;
  readonly #webhookAllowedHosts: readonly string[];
  readonly #fenceOf: (id: SessionId) => Fence;

  readonly #records = new Map<SessionId, SessionRecord>();
  readonly #live = new Map<SessionId, SessionConnection>();
  /** Guards each session's lifecycle operations against interleaving. */
  readonly #lifecycle = new KeyedLock();
  readonly #settleWaiters = new Map<SessionId, () => void>();
  readonly #pendingSaves = new Set<Promise<void>>();
  readonly #messageStatus: MessageStatusTracker;

  #opened = false;
  #shuttingDown = false;
  #restore = { started: false, finished: false, total: 0, settled: 0 };

  constructor(options: SessionManagerOptions) {
    this.#store = options.store;
    this.#logger = options.logger;
    this.#events = options.events;
    this.#connections = options.connections;
    this.#messages = options.messages;
    this.#clock = options.clock ?? (() => new Date());
    this.#newId = options.newId ?? (() => crypto.randomUUID());
    this.#restoreConcurrency = Math.max(1, options.restoreConcurrency ?? 16);
    this.#restoreSettleTimeoutMs = options.restoreSettleTimeoutMs ?? 30_000;
    this.#webhookAllowedHosts = options.webhookAllowedHosts ?? [];
    this.#messageStatus = new MessageStatusTracker(options.trackedMessages ?? 10_000);
    this.#fenceOf = options.fenceOf ?? singleOwnerFence;
  }

  /**
   * Opens the store and loads every persisted session into memory. Sessions whose credentials
   * are gone are cleaned up (except `logged_out` ones, kept so operators see what happened);
   * auth folders without metadata are adopted. Does not connect anything: see `connectRestored`.
   */
  async restore(): Promise<RestoreReport> {
    if (this.#opened) throw new Error("SessionManager.restore() called twice");
    const load = await this.#store.open();
    this.#opened = true;
    const withAuth = new Set(await this.#store.listAuth());
    const report: RestoreReport = { load, restored: [], cleanedUp: [], adopted: [] };

    for (const record of load.sessions) {
      if (withAuth.has(record.id) || record.status === "logged_out") {
        const status = record.status === "logged_out" ? "logged_out" : "disconnected";
        this.#records.set(record.id, { ...record, status });
        report.restored.push(record.id);
      } else {
        await this.#store.remove(record.id);
        report.cleanedUp.push(record.id);
      }
    }
    for (const id of withAuth) {
      if (this.#records.has(id)) continue;
      const now = this.#now();
      const record = this.#newRecord(id, null, now);
      await this.#store.create(record);
      this.#records.set(id, record);
      report.adopted.push(id);
      report.restored.push(id);
    }
    if (report.cleanedUp.length) {
      this.#logger.warn(
        { sessionIds: report.cleanedUp },
        "removed metadata of sessions whose credentials are gone",
      );
    }
    if (report.adopted.length) {
      this.#logger.warn({ sessionIds: report.adopted }, "adopted auth folders without metadata");
    }
    return report;
  }

  /**
   * Connects every restored session that should run, `restoreConcurrency` at a time. Resolves
   * once each has settled (connected, waiting for a QR, failed, …) or timed out.
   */
  async connectRestored(): Promise<void> {
    this.#assertOpen();
    const toStart = [...this.#records.values()]
      .filter((r) => r.desiredState === "running" && r.status !== "logged_out")
      .map((r) => r.id);
    this.#restore = { started: true, finished: false, total: toStart.length, settled: 0 };
    if (!this.#connections) {
      this.#restore = { ...this.#restore, finished: true, settled: toStart.length };
      return;
    }
    let next = 0;
    const worker = async () => {
      while (next < toStart.length && !this.#shuttingDown) {
        const id = toStart[next++];
        await this.#startRestored(id);
        this.#restore.settled++;
        this.#logger.info(
          `restored ${this.#restore.settled}/${this.#restore.total}`,
        );
      }
    };
    const workers = Array.from(
      { length: Math.min(this.#restoreConcurrency, toStart.length) },
      worker,
    );
    await Promise.all(workers);
    this.#restore.finished = true;
  }

  /** Whether restore has finished and every restored session has settled. */
  get readiness(): Readiness {
    const r = this.#restore;
    return {
      ready: r.started && r.finished && !this.#shuttingDown,
      restoreStarted: r.started,
      total: r.total,
      settled: r.settled,
    };
  }

  /** Every session, oldest first. */
  list(): SessionRecord[] {
    return [...this.#records.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** One session; throws `SessionNotFoundError` or `InvalidSessionIdError`. */
  get(id: string): SessionRecord {
    return this.#require(id);
  }

  /** Creates a session, persists it, and starts its connection. */
  create(input: CreateSessionInput): Promise<SessionRecord> {
    this.#assertAcceptingWork();
    const id = input.id ?? this.#newId();
    if (!isSessionId(id)) throw new InvalidSessionIdError(id);
    return this.#lifecycle.run(id, async () => {
      this.#assertAcceptingWork();
      if (this.#records.has(id)) throw new SessionAlreadyExistsError(id);
      const record = {
        ...this.#newRecord(id, input.name ?? null, this.#now()),
        webhooks: this.#allowedWebhooks(withSecrets(input.webhooks ?? [], [])),
      };
      await this.#store.create(record);
      this.#records.set(id, record);
      this.#logger.info({ sessionId: id }, "session created");
      this.#publishStatus(record, null);
      if (this.#connections) await this.#openConnection(id);
      return this.#records.get(id)!;
    });
  }

  /** Changes a session's operator-facing fields. */
  update(id: string, input: UpdateSessionInput): Promise<SessionRecord> {
    this.#assertAcceptingWork();
    const current = this.#require(id);
    return this.#lifecycle.run(current.id, async () => {
      const record = this.#require(id);
      const updatedAt = this.#now();
      return await this.#commitSpec(record.id, (current) => ({
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.webhooks !== undefined
          ? { webhooks: this.#allowedWebhooks(withSecrets(input.webhooks, current.webhooks ?? [])) }
          : {}),
        updatedAt,
      }));
    });
  }

  /**
   * Deletes a session: logs it out on WhatsApp when it is connected, then removes its credentials
   * and its metadata. Credentials go first so that a crash in between leaves metadata without
   * credentials, which the next restore cleans up.
   */
  delete(id: string): Promise<void> {
    this.#assertAcceptingWork();
    const current = this.#require(id);
    return this.#lifecycle.run(current.id, async () => {
      const record = this.#require(id);
      const connection = this.#live.get(record.id);
      this.#live.delete(record.id);
      if (connection) {
        if (record.status === "connected") await connection.logout();
        else await connection.stop();
      }
      await this.#store.remove(record.id);
      // After the session: a crash in between leaves messages that the next start deletes.
      await this.#messages?.deleteSession(this.#fenceOf(record.id));
      this.#settle(record.id);
      this.#logger.info({ sessionId: record.id }, "session deleted");
      // Published while the record is still known, so that `webhooksOf` can route the event to
      // the session's own webhooks one last time.
      this.#events.publish({ type: "session.deleted", sessionId: record.id, at: this.#now() });
      this.#records.delete(record.id);
      this.#messageStatus.forgetSession(record.id);
    });
  }

  /** Starts (or keeps running) a session's connection and remembers that it should run. */
  start(id: string): Promise<SessionRecord> {
    this.#assertAcceptingWork();
    const current = this.#require(id);
    return this.#lifecycle.run(current.id, async () => {
      const record = this.#require(id);
      this.#requireConnections();
      if (record.desiredState !== "running") {
        await this.#commitSpec(
          record.id,
          () => ({ desiredState: "running", updatedAt: this.#now() }),
        );
      }
      if (!this.#live.has(record.id)) await this.#openConnection(record.id);
      return this.#records.get(record.id)!;
    });
  }

  /** Closes a session's connection without logging out; it stays stopped across restarts. */
  stop(id: string): Promise<SessionRecord> {
    this.#assertAcceptingWork();
    const current = this.#require(id);
    return this.#lifecycle.run(current.id, async () => {
      const record = this.#require(id);
      await this.#closeConnection(record.id);
      const now = this.#now();
      await this.#commitSpec(record.id, () => ({ desiredState: "stopped", updatedAt: now }));
      const latest = this.#records.get(record.id)!;
      await this.#commitReport(record.id, {
        status: latest.status === "logged_out" ? "logged_out" : "disconnected",
        updatedAt: now,
      });
      return this.#records.get(record.id)!;
    });
  }

  /** Closes and reopens a session's connection (credentials kept). */
  restart(id: string): Promise<SessionRecord> {
    this.#assertAcceptingWork();
    const current = this.#require(id);
    return this.#lifecycle.run(current.id, async () => {
      this.#requireConnections();
      await this.#closeConnection(current.id);
      const record = this.#require(id);
      await this.#commitSpec(
        record.id,
        () => ({ desiredState: "running", updatedAt: this.#now() }),
      );
      await this.#openConnection(record.id);
      return this.#records.get(record.id)!;
    });
  }

  /**
   * Logs a connected session out on WhatsApp and deletes its credentials. The metadata stays,
   * with status `logged_out`, so the session can be linked again with `start`.
   */
  logout(id: string): Promise<SessionRecord> {
    this.#assertAcceptingWork();
    const current = this.#require(id);
    return this.#lifecycle.run(current.id, async () => {
      const record = this.#require(id);
      const connection = this.#live.get(record.id);
      if (!connection || record.status !== "connected") {
        throw new SessionStateError(
          `Session '${record.id}' is not connected (status: ${record.status}); ` +
            "only a connected session can be logged out. DELETE removes it regardless.",
          "session_not_connected",
        );
      }
      this.#live.delete(record.id);
      await connection.logout();
      await this.#store.auth(this.#fenceOf(record.id)).delete();
      const now = this.#now();
      await this.#commitReport(record.id, {
        status: "logged_out",
        lastDisconnectedAt: now,
        lastDisconnect: { code: 401, reason: "logged_out", message: "logged out via API", at: now },
        updatedAt: now,
      });
      return this.#records.get(record.id)!;
    });
  }

  /** The QR code a session is waiting to have scanned; throws when there is none. */
  qr(id: string): string {
    const record = this.#require(id);
    const qr = this.#live.get(record.id)?.qr ?? null;
    if (!qr) {
      throw new QrNotAvailableError(
        `Session '${record.id}' has no QR code pending (status: ${record.status})`,
      );
    }
    return qr;
  }

  /**
   * A pairing code for linking `id` by typing it on the phone of `phoneNumber` (digits) instead of
   * scanning the QR code. Throws `QrNotAvailableError` unless the session waits to be linked.
   */
  async requestPairingCode(id: string, phoneNumber: string): Promise<string> {
    this.#assertAcceptingWork();
    const record = this.#require(id);
    const connection = this.#live.get(record.id);
    if (!connection?.qr) {
      throw new QrNotAvailableError(
        `Session '${record.id}' is not waiting to be linked (status: ${record.status})`,
      );
    }
    const code = await connection.requestPairingCode(phoneNumber);
    this.#logger.info({ sessionId: record.id }, "pairing code requested");
    return code;
  }

  /** The webhooks configured on a session, secrets included; none for an unknown session. */
  webhooksOf(id: SessionId): readonly Webhook[] {
    return this.#records.get(id)?.webhooks ?? [];
  }

  /**
   * Sends a message from a connected session to a user JID (see `normalizeRecipient`), and
   * publishes `message.sent`. Throws `SessionStateError` (`session_not_connected`) when the
   * session is not connected.
   */
  async sendMessage(
    id: string,
    to: string,
    message: OutgoingMessage,
    options?: SendOptions,
  ): Promise<SentMessage> {
    const { record, connection } = this.#connected(id, "send messages");
    const sent = await connection.sendMessage(to, message, options);
    this.#messageStatus.sent(record.id, sent);
    await this.#patchStatus(record.id, sent.id, sent.status);
    this.#events.publish({
      type: "message.sent",
      sessionId: record.id,
      message: sent,
      content: message,
      at: this.#now(),
    });
    return sent;
  }

  /** A session's chats, the most recently active first (empty without a message store). */
  async chats(id: string, page: PageRequest): Promise<Page<ChatSummary>> {
    const record = this.#require(id);
    if (!this.#messages) return { items: [], nextCursor: null };
    return await this.#messages.chats(record.id, page);
  }

  /** A chat's stored messages, newest first (see `MessageStore.history`). */
  async history(id: string, chat: string, page: HistoryRequest): Promise<Page<StoredMessage>> {
    const record = this.#require(id);
    if (!this.#messages) return { items: [], nextCursor: null };
    return await this.#messages.history(record.id, chat, page);
  }

  /** One stored message of a session; `undefined` when it is not stored. */
  async storedMessage(id: string, messageId: string): Promise<StoredMessage | undefined> {
    const record = this.#require(id);
    return await this.#messages?.get(record.id, messageId);
  }

  /** Publishes a poll vote, an edit or a deletion as its event. */
  publishActivity(id: SessionId, activity: MessageActivity): void {
    const { kind, at: _at, ...fields } = activity;
    this.#events.publish(
      { type: kind, sessionId: id, at: this.#now(), ...fields } as NewGatewayEvent,
    );
  }

  /** The fence this node writes a session's messages and records under. */
  fenceOf(id: SessionId): Fence {
    return this.#fenceOf(id);
  }

  /** Which phone numbers (digits) have WhatsApp, asked through a connected session. */
  async checkNumbers(id: string, phoneNumbers: string[]): Promise<NumberCheck[]> {
    const { connection } = this.#connected(id, "check numbers");
    return await connection.checkNumbers(phoneNumbers);
  }

  /**
   * Stops accepting work and closes every connection without logging it out, then waits for
   * every pending write. Sessions keep their desired state, so a restart reconnects them.
   */
  async shutdown(): Promise<void> {
    this.#shuttingDown = true;
    for (const wake of this.#settleWaiters.values()) wake();
    const connections = [...this.#live.entries()];
    this.#live.clear();
    await Promise.allSettled(
      connections.map(async ([id, connection]) => {
        try {
          await connection.stop();
        } catch (error) {
          this.#logger.error({ sessionId: id, err: error }, "closing connection failed");
        }
      }),
    );
    await Promise.allSettled([...this.#pendingSaves]);
    if (this.#opened) await this.#store.flush();
  }

  // --- connection plumbing -------------------------------------------------------------------

  async #startRestored(id: SessionId): Promise<void> {
    const settled = new Promise<void>((resolve) => this.#settleWaiters.set(id, resolve));
    try {
      await this.#lifecycle.run(id, async () => {
        if (this.#shuttingDown || !this.#records.has(id) || this.#live.has(id)) {
          this.#settle(id);
          return;
        }
        await this.#openConnection(id);
      });
    } catch (error) {
      this.#logger.error({ sessionId: id, err: error }, "restoring session failed");
      this.#settle(id);
    }
    await withTimeout(settled, this.#restoreSettleTimeoutMs, () => {});
    this.#settleWaiters.delete(id);
  }

  async #openConnection(id: SessionId): Promise<void> {
    const factory = this.#requireConnections();
    const connection: SessionConnection = factory.create({
      sessionId: id,
      auth: this.#store.auth(this.#fenceOf(id)),
      messages: this.#messages ? sessionMessages(this.#messages, this.#fenceOf(id)) : undefined,
      logger: this.#logger.child({ sessionId: id }),
      listener: {
        onStatus: (update) => {
          if (this.#live.get(id) === connection) this.#onConnectionStatus(id, update);
        },
        onQr: (qr) => {
          if (this.#live.get(id) !== connection) return;
          this.#events.publish({ type: "session.qr", sessionId: id, qr, at: this.#now() });
        },
        onMessage: (message) => {
          if (this.#live.get(id) === connection) this.#onMessage(id, message);
        },
        onMessageStatus: (update) => {
          if (this.#live.get(id) === connection) this.#onMessageStatus(id, update);
        },
        onActivity: (activity) => {
          if (this.#live.get(id) === connection) this.publishActivity(id, activity);
        },
      },
    });
    this.#live.set(id, connection);
    try {
      await connection.start();
    } catch (error) {
      this.#live.delete(id);
      this.#logger.error({ sessionId: id, err: error }, "starting connection failed");
      if (this.#records.has(id)) {
        await this.#commitReport(id, {
          status: "failed",
          lastDisconnect: {
            code: null,
            reason: "start_failed",
            message: errorMessage(error).slice(0, 500),
            at: this.#now(),
          },
          updatedAt: this.#now(),
        });
      }
    }
  }

  async #closeConnection(id: SessionId): Promise<void> {
    const connection = this.#live.get(id);
    if (!connection) return;
    this.#live.delete(id);
    await connection.stop();
  }

  #onConnectionStatus(id: SessionId, update: ConnectionStatusUpdate): void {
    const record = this.#records.get(id);
    if (!record) return;
    const now = this.#now();
    const next: SessionReportChange = { status: update.status, updatedAt: now };
    if (update.account) {
      next.phoneNumber = update.account.phoneNumber;
      next.pushName = update.account.pushName ?? record.pushName;
    }
    if (update.status === "connected" && record.status !== "connected") next.connectedAt = now;
    if (update.disconnect) {
      next.lastDisconnect = { ...update.disconnect, at: now };
      if (record.status === "connected") next.lastDisconnectedAt = now;
    }
    if (update.status === "logged_out") {
      // WhatsApp ended the link: the credentials are worthless now. The connection has stopped
      // writing them before reporting, so the folder can go.
      this.#live.delete(id);
      this.#track(
        this.#lifecycle.run(id, () => this.#store.auth(this.#fenceOf(id)).delete()).catch(
          (error) => {
            this.#logger.error({ sessionId: id, err: error }, "deleting credentials failed");
          },
        ),
      );
    }
    if (update.status === "failed" || update.status === "disconnected") {
      // The connection gave up or was replaced: it is finished, and `start` may open a new one.
      this.#live.delete(id);
    }
    this.#track(this.#commitReport(id, next).catch(() => {}));
    if (SETTLED.has(update.status)) this.#settle(id);
  }

  #onMessage(id: SessionId, message: IncomingMessage): void {
    this.#events.publish({ type: "message.received", sessionId: id, message, at: this.#now() });
  }

  #onMessageStatus(id: SessionId, update: MessageStatusUpdate): void {
    const change = this.#messageStatus.update(id, update.id, update.status);
    if (!change) return;
    this.#track(this.#patchStatus(id, update.id, change.status));
    this.#events.publish({
      type: "message.status",
      sessionId: id,
      messageId: update.id,
      chat: change.to ?? update.chat,
      status: change.status,
      previousStatus: change.previousStatus,
      at: this.#now(),
    });
  }

  /** Records a sent message's new status in the message store; a failure is only logged. */
  async #patchStatus(id: SessionId, messageId: string, status: SentMessage["status"]) {
    try {
      await this.#messages?.patch(this.#fenceOf(id), [{ id: messageId, status }]);
    } catch (error) {
      this.#logger.error({ sessionId: id, messageId, err: error }, "storing a status failed");
    }
  }

  /**
   * The session and its live connection; `SessionStateError` (`session_not_connected`) unless
   * it is connected. `what` completes "only a connected session can …".
   */
  connected(id: string, what: string): { record: SessionRecord; connection: SessionConnection } {
    return this.#connected(id, what);
  }

  /** The session and its live connection, or `session_not_connected`. */
  #connected(id: string, what: string): { record: SessionRecord; connection: SessionConnection } {
    this.#assertAcceptingWork();
    const record = this.#require(id);
    const connection = this.#live.get(record.id);
    if (!connection || record.status !== "connected") {
      throw new SessionStateError(
        `Session '${record.id}' is not connected (status: ${record.status}); ` +
          `only a connected session can ${what}`,
        "session_not_connected",
      );
    }
    return { record, connection };
  }

  // --- records -------------------------------------------------------------------------------

  /**
   * Writes what this node reports about a session (under its fence), in memory at once and then
   * durably, and publishes a status change.
   */
  async #commitReport(id: SessionId, fields: SessionReportChange): Promise<void> {
    const previous = this.#records.get(id);
    if (!previous) return;
    const next = { ...previous, ...fields };
    this.#records.set(id, next);
    if (previous.status !== next.status) this.#publishStatus(next, previous.status);
    try {
      await this.#store.report(this.#fenceOf(id), fields);
    } catch (error) {
      this.#logger.error({ sessionId: id, err: error }, "persisting session failed");
      throw error;
    }
  }

  /** Changes a session's spec durably (a compare-and-swap in the store), then in memory. */
  async #commitSpec(
    id: SessionId,
    change: (current: SessionRecord) => SessionSpecChange,
  ): Promise<SessionRecord> {
    const stored = await this.#store.updateSpec(id, change);
    const next: SessionRecord = {
      ...this.#records.get(id)!,
      name: stored.name,
      ...(stored.webhooks !== undefined ? { webhooks: stored.webhooks } : {}),
      desiredState: stored.desiredState,
      ...(stored.updatedAt ? { updatedAt: stored.updatedAt } : {}),
    };
    this.#records.set(id, next);
    return next;
  }

  #publishStatus(record: SessionRecord, previousStatus: SessionStatus | null): void {
    this.#logger.info(
      { sessionId: record.id, status: record.status, previousStatus },
      "session status changed",
    );
    this.#events.publish({
      type: "session.status",
      sessionId: record.id,
      status: record.status,
      previousStatus,
      session: publicSession(record),
      at: this.#now(),
    });
  }

  #newRecord(id: SessionId, name: string | null, now: string): SessionRecord {
    return {
      id,
      name,
      status: this.#connections ? "initializing" : "disconnected",
      desiredState: "running",
      phoneNumber: null,
      pushName: null,
      createdAt: now,
      updatedAt: now,
      connectedAt: null,
      lastDisconnectedAt: null,
      lastDisconnect: null,
    };
  }

  #track(promise: Promise<void>): void {
    this.#pendingSaves.add(promise);
    promise.finally(() => this.#pendingSaves.delete(promise));
  }

  #settle(id: SessionId): void {
    this.#settleWaiters.get(id)?.();
  }

  #require(id: string): SessionRecord {
    this.#assertOpen();
    if (!isSessionId(id)) throw new InvalidSessionIdError(id);
    const record = this.#records.get(id);
    if (!record) throw new SessionNotFoundError(id);
    return record;
  }

  #requireConnections(): ConnectionFactory {
    if (!this.#connections) {
      throw new SessionStateError("This gateway has no WhatsApp connector configured");
    }
    return this.#connections;
  }

  /** The webhooks as given; `ValidationError` if one points at a host the allow-list refuses. */
  #allowedWebhooks(webhooks: Webhook[]): Webhook[] {
    for (const [index, hook] of webhooks.entries()) {
      const problem = webhookHostProblem(hook.url, this.#webhookAllowedHosts);
      if (problem) throw new ValidationError(`webhooks.${index}.url: ${problem}`);
    }
    return webhooks;
  }

  #assertOpen(): void {
    if (!this.#opened) throw new Error("SessionManager used before restore()");
  }

  #assertAcceptingWork(): void {
    this.#assertOpen();
    if (this.#shuttingDown) throw new ShuttingDownError();
  }

  #now(): string {
    return this.#clock().toISOString();
  }
}

/**
 * The webhooks to store: a secret sent back masked keeps the stored secret of the same URL.
 * Throws `ValidationError` when there is none to keep.
 */
function withSecrets(wanted: readonly Webhook[], current: readonly Webhook[]): Webhook[] {
  return wanted.map((hook, index) => {
    if (hook.secret !== MASKED_SECRET) return { ...hook, events: [...hook.events] };
    const kept = current.find((existing) => existing.url === hook.url);
    if (!kept) {
      throw new ValidationError(
        `webhooks.${index}.secret: '${MASKED_SECRET}' keeps the current secret, ` +
          `but ${hook.url} has none; give the secret`,
      );
    }
    return { ...hook, events: [...hook.events], secret: kept.secret };
  });
}
