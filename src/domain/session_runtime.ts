import type { Logger } from "../logger.ts";
import { KeyedLock } from "../lib/keyed_lock.ts";
import type { Lease } from "../ownership/lease_lock.ts";
import type { LossReason, OwnershipListener } from "../ownership/session_ownership.ts";
import type {
  ConnectionFactory,
  ConnectionStatusUpdate,
  SendOptions,
  SessionConnection,
} from "./connection.ts";
import {
  FencedOutError,
  InsufficientStorageError,
  OwnerUnavailableError,
  QrNotAvailableError,
  SessionStateError,
} from "./errors.ts";
import type { EventBus, NewGatewayEvent } from "./events.ts";
import type { Fence } from "./fence.ts";
import { reportFencing } from "./fenced_auth_files.ts";
import {
  type IncomingMessage,
  type MessageStatusUpdate,
  type NumberCheck,
  type OutgoingMessage,
  sentContent,
  type SentMessage,
} from "./message.ts";
import { mediaPath } from "./media.ts";
import type { MessageActivity } from "./message_activity.ts";
import type {
  AccountOperationKind,
  AccountOperationOf,
  AccountOperationResult,
} from "./account_operations.ts";
import { MessageStatusTracker } from "./message_status_tracker.ts";
import { type MessageStore, sessionMessages } from "./message_store.ts";
import { publicSession, type SessionRecord, type SessionStatus } from "./session.ts";
import type { SessionId } from "./session_id.ts";
import { reduceStatus, SETTLED_STATUSES } from "./session_status.ts";
import type { SessionReportChange, SessionSpecChange, SessionStore } from "./session_store.ts";
import { StartQueue } from "./start_queue.ts";
import type { StatusHistory } from "./status_history.ts";
import type { StorageHealth } from "./storage_health.ts";
import { errorMessage } from "../lib/error_message.ts";

export interface SessionRuntimeOptions {
  store: SessionStore;
  logger: Logger;
  events: EventBus;
  /** Opens WhatsApp connections. Without it, sessions are records only (no sockets). */
  connections?: ConnectionFactory;
  /** Keeps each session's messages. Without it none are kept. */
  messages?: MessageStore;
  /** The fence of a session this node holds; `undefined` when it does not hold it. */
  fenceOf: (id: SessionId) => Fence | undefined;
  /** A write was refused under `fence`: the ownership loop then closes the session here. */
  onFenced: (fence: Fence) => void;
  /** The session was deleted here: the ownership loop lets its lease go. */
  onDeleted: (id: SessionId) => void;
  /** How many sessions may be logging in at once (`RESTORE_CONCURRENCY`). */
  startConcurrency: number;
  /** How long one start may take to settle before its slot is freed. */
  settleTimeoutMs: number;
  /** How many sent messages' statuses are remembered (in memory) to match receipts. */
  trackedMessages: number;
  /** Whether the store can write (a full disk); without it, it is assumed to. */
  storage?: StorageHealth;
  /** Where status changes are noted for operators (`GET /api/sessions/{id}`). */
  statusHistory: StatusHistory;
  now: () => string;
}

/**
 * The sessions this node runs: those whose lease it holds. It is the ownership loop's listener:
 * an acquired session is loaded from the store and, if it should run, connected (a bounded number
 * at a time); a lost one has its socket closed at once, without logging out. Every write it makes
 * for a session (its reports, its auth files) carries the session's fence, and a refused one
 * hands the session back to the ownership loop.
 *
 * Lifecycle operations on one session are serialised; different sessions proceed in parallel.
 * Callers check `holds` first: every operation throws for a session this node does not run.
 */
export class SessionRuntime implements OwnershipListener {
  readonly #store: SessionStore;
  readonly #logger: Logger;
  readonly #events: EventBus;
  readonly #connections?: ConnectionFactory;
  readonly #messages?: MessageStore;
  readonly #fenceOf: (id: SessionId) => Fence | undefined;
  readonly #onFenced: (fence: Fence) => void;
  readonly #onDeleted: (id: SessionId) => void;
  readonly #settleTimeoutMs: number;
  readonly #now: () => string;
  readonly #storage?: StorageHealth;
  readonly #statusHistory: StatusHistory;

  readonly #records = new Map<SessionId, SessionRecord>();
  readonly #live = new Map<SessionId, SessionConnection>();
  readonly #lifecycle = new KeyedLock();
  readonly #starts: StartQueue;
  readonly #settleWaiters = new Map<SessionId, () => void>();
  /** Sessions created on this node and not yet adopted: they skip the start queue. */
  readonly #fresh = new Map<SessionId, PromiseWithResolvers<void>>();
  readonly #pendingWrites = new Set<Promise<unknown>>();
  readonly #messageStatus: MessageStatusTracker;
  #closing = false;

  constructor(options: SessionRuntimeOptions) {
    this.#store = options.store;
    this.#logger = options.logger;
    this.#events = options.events;
    this.#connections = options.connections;
    this.#messages = options.messages;
    this.#fenceOf = options.fenceOf;
    this.#onFenced = options.onFenced;
    this.#onDeleted = options.onDeleted;
    this.#settleTimeoutMs = options.settleTimeoutMs;
    this.#now = options.now;
    this.#storage = options.storage;
    this.#statusHistory = options.statusHistory;
    this.#starts = new StartQueue(options.startConcurrency);
    this.#messageStatus = new MessageStatusTracker(options.trackedMessages);
  }

  /** Whether this node runs the session (holds its lease and has loaded it). */
  holds(id: SessionId): boolean {
    return this.#records.has(id) && this.#fenceOf(id) !== undefined;
  }

  /** The record of a session this node runs, as it is in memory now (newer than the store's). */
  record(id: SessionId): SessionRecord | undefined {
    return this.holds(id) ? this.#records.get(id) : undefined;
  }

  /** Every session this node runs. */
  records(): SessionRecord[] {
    return [...this.#records.values()];
  }

  /** Starts of the current batch (a restore, a takeover): how many there are and have settled. */
  get startProgress(): { total: number; settled: number } {
    return this.#starts.progress;
  }

  /** Counts starts anew (readiness follows one batch at a time). */
  beginStartBatch(): void {
    this.#starts.beginBatch();
  }

  /** Resolves once no start is queued or running. */
  startsIdle(): Promise<void> {
    return this.#starts.idle();
  }

  /**
   * Says that the session was just created here, so that when this node acquires it, it is opened
   * at once rather than behind queued restores. Resolves once it has been opened (or taken by
   * another node: then call `forgetFresh`).
   */
  expectFresh(id: SessionId): Promise<void> {
    const pending = this.#fresh.get(id);
    if (pending) return pending.promise;
    const waiting = Promise.withResolvers<void>();
    this.#fresh.set(id, waiting);
    return waiting.promise;
  }

  /** Stops waiting for a fresh session (another node took it). */
  forgetFresh(id: SessionId): void {
    this.#fresh.get(id)?.resolve();
    this.#fresh.delete(id);
  }

  // --- the ownership loop's listener ----------------------------------------------------------

  onAcquired(lease: Lease): void {
    const id = lease.sessionId;
    const fresh = this.#fresh.get(id);
    if (fresh) {
      this.#fresh.delete(id);
      this.#adopt(id, lease.epoch, false).finally(() => fresh.resolve());
      return;
    }
    this.#track(this.#markNotRunning(lease));
    this.#starts.enqueue(id, () => this.#adopt(id, lease.epoch, true));
  }

  /**
   * Reports a session taken over (or restored) as disconnected until its start comes up in the
   * queue: what its previous owner reported (connected, say) no longer holds, and every node
   * reads the record from the store.
   */
  async #markNotRunning(lease: Lease): Promise<void> {
    const fence = { sessionId: lease.sessionId, epoch: lease.epoch };
    try {
      const stored = await this.#store.get(lease.sessionId);
      if (!stored || stored.status === "disconnected" || stored.status === "logged_out") return;
      if (
        this.#records.has(lease.sessionId) || this.#fenceOf(lease.sessionId)?.epoch !== lease.epoch
      ) {
        return; // already started, or lost again
      }
      await this.#store.report(fence, { status: "disconnected" });
    } catch (error) {
      if (error instanceof FencedOutError) return this.#onFenced(fence);
      this.#logger.warn({ err: error, sessionId: lease.sessionId }, "marking a taken-over session");
    }
  }

  async onLost(id: SessionId, reason: LossReason): Promise<void> {
    this.forgetFresh(id);
    const connection = this.#live.get(id);
    this.#live.delete(id);
    this.#records.delete(id);
    this.#settle(id);
    this.#messageStatus.forgetSession(id);
    if (!connection) return;
    try {
      await connection.stop();
    } catch (error) {
      this.#logger.error({ sessionId: id, err: error, reason }, "closing connection failed");
    }
    if (reason !== "shutdown") {
      this.#logger.info(
        { sessionId: id, reason },
        "connection closed: this node no longer runs it",
      );
    }
  }

  // --- operations on sessions this node runs --------------------------------------------------

  /** Starts (or keeps running) a session's connection and records that it should run. */
  start(id: SessionId): Promise<SessionRecord> {
    return this.#run(id, async (record) => {
      this.#requireConnections();
      if (record.desiredState !== "running") {
        await this.#commitSpec(id, () => ({ desiredState: "running", updatedAt: this.#now() }));
      }
      if (!this.#live.has(id)) await this.#openConnection(id);
      return this.#records.get(id)!;
    });
  }

  /** Closes a session's connection without logging out; it stays stopped across restarts. */
  stop(id: SessionId): Promise<SessionRecord> {
    return this.#run(id, async () => {
      await this.#closeConnection(id);
      const now = this.#now();
      await this.#commitSpec(id, () => ({ desiredState: "stopped", updatedAt: now }));
      const latest = this.#records.get(id)!;
      await this.#commitReport(id, {
        status: latest.status === "logged_out" ? "logged_out" : "disconnected",
        updatedAt: now,
      });
      return this.#records.get(id)!;
    });
  }

  /** Closes and reopens a session's connection (credentials kept). */
  restart(id: SessionId): Promise<SessionRecord> {
    return this.#run(id, async () => {
      this.#requireConnections();
      await this.#closeConnection(id);
      await this.#commitSpec(id, () => ({ desiredState: "running", updatedAt: this.#now() }));
      await this.#openConnection(id);
      return this.#records.get(id)!;
    });
  }

  /**
   * Logs a connected session out on WhatsApp and deletes its credentials. The record stays, with
   * status `logged_out`, so the session can be linked again with `start`.
   */
  logout(id: SessionId): Promise<SessionRecord> {
    return this.#run(id, async (record) => {
      const connection = this.#live.get(id);
      if (!connection || record.status !== "connected") {
        throw new SessionStateError(
          `Session '${id}' is not connected (status: ${record.status}); ` +
            "only a connected session can be logged out. DELETE removes it regardless.",
          "session_not_connected",
        );
      }
      this.#live.delete(id);
      await connection.logout();
      await this.#auth(id).delete();
      const now = this.#now();
      await this.#commitReport(id, {
        status: "logged_out",
        lastDisconnectedAt: now,
        lastDisconnect: { code: 401, reason: "logged_out", message: "logged out via API", at: now },
        updatedAt: now,
      });
      return this.#records.get(id)!;
    });
  }

  /**
   * Deletes a session: logs it out on WhatsApp when it is connected, then removes everything the
   * store keeps for it. Publishes `session.deleted` while the record is still known, so its own
   * webhooks get the event one last time.
   */
  delete(id: SessionId): Promise<void> {
    return this.#run(id, async (record) => {
      const connection = this.#live.get(id);
      this.#live.delete(id);
      if (connection) {
        if (record.status === "connected") await connection.logout();
        else await connection.stop();
      }
      // Before the session, while this node's fence is still good (removing the session moves its
      // lease on): a crash in between leaves the session without its messages, never the reverse.
      const fence = this.#fenceOf(id);
      if (fence) await this.#messages?.deleteSession(fence);
      await this.#store.remove(id);
      this.#settle(id);
      this.#logger.info({ sessionId: id }, "session deleted");
      this.#events.publish({ type: "session.deleted", sessionId: id, at: this.#now() });
      this.#records.delete(id);
      this.#statusHistory.forget(id);
      this.#messageStatus.forgetSession(id);
      this.#onDeleted(id);
    });
  }

  /** The QR code a session is waiting to have scanned; throws when there is none. */
  qr(id: SessionId): string {
    const record = this.#require(id);
    const qr = this.#live.get(id)?.qr ?? null;
    if (!qr) {
      throw new QrNotAvailableError(
        `Session '${id}' has no QR code pending (status: ${record.status})`,
      );
    }
    return qr;
  }

  /** A pairing code for linking the session on the phone of `phoneNumber` (digits). */
  async requestPairingCode(id: SessionId, phoneNumber: string): Promise<string> {
    const record = this.#require(id);
    const connection = this.#live.get(id);
    if (!connection?.qr) {
      throw new QrNotAvailableError(
        `Session '${id}' is not waiting to be linked (status: ${record.status})`,
      );
    }
    const code = await connection.requestPairingCode(phoneNumber);
    this.#logger.info({ sessionId: id }, "pairing code requested");
    return code;
  }

  /** Sends a message from a connected session and publishes `message.sent`. */
  async sendMessage(
    id: SessionId,
    to: string,
    message: OutgoingMessage,
    options?: SendOptions,
  ): Promise<SentMessage> {
    const connection = this.assertCanSend(id);
    const sent = await connection.sendMessage(to, message, options);
    this.#messageStatus.sent(id, sent);
    await this.#patchStatus(id, sent.id, sent.status);
    this.#events.publish({
      type: "message.sent",
      sessionId: id,
      message: sent,
      content: sentContent(message),
      at: this.#now(),
    });
    return sent;
  }

  /**
   * The connection `sendMessage` would use, or what it would throw (not connected, disk full):
   * lets a caller refuse before preparing something costly, such as a file.
   */
  assertCanSend(id: SessionId): SessionConnection {
    const connection = this.#connected(id, "send messages");
    // A send changes encryption state that must be stored: refuse before anything goes out.
    const problem = this.#storage?.problem;
    if (problem) throw new InsufficientStorageError(`Not sent: ${problem.message}`);
    return connection;
  }

  /** Publishes a poll vote, an edit or a deletion as its event. */
  publishActivity(id: SessionId, activity: MessageActivity): void {
    const { kind, at: _at, ...fields } = activity;
    this.#events.publish(
      { type: kind, sessionId: id, at: this.#now(), ...fields } as NewGatewayEvent,
    );
  }

  /**
   * The live connection of a session this node runs; `SessionStateError`
   * (`session_not_connected`) unless it is connected. `what` completes "only a connected session
   * can …".
   */
  connected(id: SessionId, what: string): { record: SessionRecord; connection: SessionConnection } {
    return { record: this.#require(id), connection: this.#connected(id, what) };
  }

  /** Which phone numbers (digits) have WhatsApp, asked through a connected session. */
  async checkNumbers(id: SessionId, phoneNumbers: string[]): Promise<NumberCheck[]> {
    return await this.#connected(id, "check numbers").checkNumbers(phoneNumbers);
  }

  /** Runs a group, contact or profile operation through a connected session. */
  async run<K extends AccountOperationKind>(
    id: SessionId,
    operation: AccountOperationOf<K>,
  ): Promise<AccountOperationResult<K>> {
    const connection = this.#connected(id, "use groups, contacts or the profile");
    return await connection.run(operation) as AccountOperationResult<K>;
  }

  /** Takes in a spec change made through another path (an edit on this or another node). */
  specChanged(record: SessionRecord): void {
    const held = this.#records.get(record.id);
    if (!held) return;
    if (
      held.name === record.name && held.desiredState === record.desiredState &&
      JSON.stringify(held.webhooks ?? []) === JSON.stringify(record.webhooks ?? [])
    ) return;
    this.#records.set(record.id, {
      ...held,
      name: record.name,
      webhooks: record.webhooks,
      desiredState: record.desiredState,
      updatedAt: record.updatedAt ?? held.updatedAt,
    });
  }

  /** Stops starting sessions and waits for every write already made. Connections close in `onLost`. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#starts.close();
    for (const wake of this.#settleWaiters.values()) wake();
    for (const id of [...this.#fresh.keys()]) this.forgetFresh(id);
    await Promise.allSettled([...this.#pendingWrites]);
  }

  // --- connection plumbing --------------------------------------------------------------------

  /**
   * Loads an acquired session and, if it should run, connects it; resolves once it has settled
   * (connected, waiting for a QR, failed…) or `settleTimeoutMs` passed.
   */
  async #adopt(id: SessionId, epoch: number, waitToSettle: boolean): Promise<void> {
    const settled = waitToSettle ? this.#whenSettled(id) : null;
    try {
      await this.#lifecycle.run(id, async () => {
        if (this.#closing || this.#fenceOf(id)?.epoch !== epoch) return this.#settle(id);
        const stored = await this.#store.get(id);
        if (!stored || this.#fenceOf(id)?.epoch !== epoch) return this.#settle(id);
        const runs = stored.desiredState === "running" && stored.status !== "logged_out" &&
          this.#connections !== undefined;
        // What a previous owner (or run) reported no longer holds: nothing runs the session until
        // this node's connection says so.
        const status: SessionStatus = stored.status === "logged_out"
          ? "logged_out"
          : "disconnected";
        this.#records.set(id, { ...stored, status });
        if (runs) {
          await this.#openConnection(id);
        } else {
          if (status !== stored.status) await this.#commitReport(id, { status });
          this.#settle(id);
        }
      });
    } catch (error) {
      this.#logger.error({ sessionId: id, err: error }, "starting session failed");
      this.#settle(id);
    }
    if (settled) await settled;
  }

  async #openConnection(id: SessionId): Promise<void> {
    const factory = this.#requireConnections();
    const fence = this.#fenceOf(id);
    if (!fence) return;
    const connection: SessionConnection = factory.create({
      sessionId: id,
      auth: reportFencing(this.#store.auth(fence), fence, this.#onFenced),
      messages: this.#messages ? sessionMessages(this.#messages, fence) : undefined,
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
        onAccountEvent: (event) => {
          if (this.#live.get(id) !== connection) return;
          this.#events.publish({ ...event, sessionId: id, at: this.#now() });
        },
      },
    });
    this.#live.set(id, connection);
    try {
      await connection.start();
    } catch (error) {
      if (this.#live.get(id) !== connection) return;
      this.#live.delete(id);
      this.#logger.error({ sessionId: id, err: error }, "starting connection failed");
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
      this.#settle(id);
    }
    if (this.#live.get(id) === connection && !this.holds(id)) {
      // Lost while it started: the loss closed nothing, so close it here.
      this.#live.delete(id);
      await connection.stop().catch(() => {});
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
    const transition = reduceStatus(record, update, this.#now());
    if (transition.connectionFinished) this.#live.delete(id);
    if (transition.credentialsGone) {
      // WhatsApp ended the link: the connection stopped writing the credentials before
      // reporting, so they can go (under the fence: a node that lost the session never deletes
      // the new owner's).
      this.#track(
        this.#lifecycle.run(id, () => this.#auth(id).delete()).catch((error) => {
          this.#logger.error({ sessionId: id, err: error }, "deleting credentials failed");
        }),
      );
    }
    this.#track(this.#commitReport(id, transition.report).catch(() => {}));
    if (SETTLED_STATUSES.has(update.status)) this.#settle(id);
  }

  #onMessage(id: SessionId, received: IncomingMessage): void {
    const message = received.media
      ? { ...received, mediaPath: mediaPath(id, received.id) }
      : received;
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
    const fence = this.#fenceOf(id);
    if (!this.#messages || !fence) return;
    try {
      await this.#messages.patch(fence, [{ id: messageId, status }]);
    } catch (error) {
      if (error instanceof FencedOutError) return this.#onFenced(fence);
      this.#logger.error({ sessionId: id, messageId, err: error }, "storing a status failed");
    }
  }

  // --- records --------------------------------------------------------------------------------

  /**
   * Writes what this node reports about a session (under its fence): in memory and published at
   * once, then durably. A refused write hands the session back to the ownership loop.
   */
  async #commitReport(id: SessionId, fields: SessionReportChange): Promise<void> {
    const previous = this.#records.get(id);
    const fence = this.#fenceOf(id);
    if (!previous || !fence) return;
    const next = { ...previous, ...fields };
    this.#records.set(id, next);
    if (previous.status !== next.status) this.#publishStatus(next, previous.status);
    try {
      await this.#store.report(fence, fields);
    } catch (error) {
      if (error instanceof FencedOutError) {
        this.#onFenced(fence);
      } else {
        // A full disk is logged once for all writes, when it starts and ends; the change stays
        // in memory and goes out with the next write.
        const level = error instanceof InsufficientStorageError ? "debug" : "error";
        this.#logger[level]({ sessionId: id, err: error }, "persisting session failed");
      }
      throw error;
    }
  }

  /** Changes a session's spec durably (a compare-and-swap in the store), then in memory. */
  async #commitSpec(
    id: SessionId,
    change: (current: SessionRecord) => SessionSpecChange,
  ): Promise<void> {
    const before = this.#records.get(id)!;
    const stored = await this.#store.updateSpec(id, change).catch(async (error) => {
      // The store keeps a failed change in memory for its next write: put the spec back.
      const { name, webhooks, desiredState, updatedAt } = before;
      await this.#store.updateSpec(id, () => ({ name, webhooks, desiredState, updatedAt }))
        .catch(() => {});
      throw error;
    });
    this.specChanged(stored);
  }

  #publishStatus(record: SessionRecord, previousStatus: SessionStatus | null): void {
    this.#statusHistory.record(record, previousStatus, this.#now());
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

  /** Runs a lifecycle operation on a session this node runs, after the ones before it. */
  #run<T>(id: SessionId, work: (record: SessionRecord) => Promise<T>): Promise<T> {
    this.#require(id);
    return this.#lifecycle.run(id, () => work(this.#require(id)));
  }

  #require(id: SessionId): SessionRecord {
    const record = this.record(id);
    if (!record) throw notRunHere(id);
    if (this.#closing) {
      throw new SessionStateError("The gateway is shutting down", "shutting_down");
    }
    return record;
  }

  #connected(id: SessionId, what: string): SessionConnection {
    const record = this.#require(id);
    const connection = this.#live.get(id);
    if (!connection || record.status !== "connected") {
      throw new SessionStateError(
        `Session '${id}' is not connected (status: ${record.status}); ` +
          `only a connected session can ${what}`,
        "session_not_connected",
      );
    }
    return connection;
  }

  #auth(id: SessionId) {
    const fence = this.#fenceOf(id);
    if (!fence) throw notRunHere(id);
    return reportFencing(this.#store.auth(fence), fence, this.#onFenced);
  }

  #requireConnections(): ConnectionFactory {
    if (!this.#connections) {
      throw new SessionStateError("This gateway has no WhatsApp connector configured");
    }
    return this.#connections;
  }

  #whenSettled(id: SessionId): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.#settleTimeoutMs);
      const waiter = () => done();
      this.#settleWaiters.set(id, waiter);
      function done() {
        clearTimeout(timer);
        resolve();
      }
    }).finally(() => this.#settleWaiters.delete(id));
  }

  #settle(id: SessionId): void {
    this.#settleWaiters.get(id)?.();
  }

  #track(promise: Promise<unknown>): void {
    this.#pendingWrites.add(promise);
    promise.finally(() => this.#pendingWrites.delete(promise));
  }
}

/** The session moved away (or is about to) while a request for it was on its way here. */
function notRunHere(id: SessionId): OwnerUnavailableError {
  return new OwnerUnavailableError(`This node no longer runs session '${id}'; retry shortly`, 1);
}
