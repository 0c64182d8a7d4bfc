import type {
  AccountOperationKind,
  AccountOperationOf,
  AccountOperationResult,
} from "./account_operations.ts";
import type { Logger } from "../logger.ts";
import type { LeaseLock } from "../ownership/lease_lock.ts";
import { LocalLeaseTable } from "../ownership/local_lease_lock.ts";
import type { NodeRegistry } from "../ownership/node_registry.ts";
import type { ClusterSignals } from "../ownership/cluster_signals.ts";
import type { Lease } from "../ownership/lease_lock.ts";
import {
  type LossReason,
  type PassOutcome,
  SessionOwnership,
} from "../ownership/session_ownership.ts";
import { type Fence, singleOwnerFence } from "./fence.ts";
import type { ConnectionFactory, SendOptions, SessionConnection } from "./connection.ts";
import {
  InvalidSessionIdError,
  OwnerUnavailableError,
  SessionAlreadyExistsError,
  SessionNotFoundError,
  ShuttingDownError,
} from "./errors.ts";
import type { EventBus } from "./events.ts";
import type { NumberCheck, OutgoingMessage, SentMessage } from "./message.ts";
import type { MessageActivity } from "./message_activity.ts";
import type {
  ChatSummary,
  HistoryRequest,
  MessageStore,
  Page,
  PageRequest,
  StoredMessage,
} from "./message_store.ts";
import { publicSession, type SessionRecord } from "./session.ts";
import { isSessionId, type SessionId } from "./session_id.ts";
import { SessionRuntime } from "./session_runtime.ts";
import { type StatusChange, StatusHistory } from "./status_history.ts";
import type { StorageHealth, StorageProblem } from "./storage_health.ts";
import type { SessionStore, StoreLoadReport } from "./session_store.ts";
import { webhooksToStore } from "./session_webhooks.ts";
import type { Webhook } from "./webhook.ts";

/** How this node takes part in session ownership. */
export interface OwnershipSettings {
  lock: LeaseLock;
  registry: NodeRegistry;
  /** This node, as the registry shows it. */
  node: { id: string; url: string };
  /** `LEASE_TTL_MS`. */
  ttlMs: number;
  /** Between ownership passes; a quarter of the TTL by default. */
  renewIntervalMs?: number;
}

/** What ownership does on this node, for metrics. Each hook must not throw. */
export interface OwnershipObserver {
  onAcquired?(lease: Lease): void;
  onLost?(id: SessionId, reason: LossReason): void;
  /** The store refused a write under a stale fence. */
  onFenced?(fence: Fence): void;
  onPass?(outcome: PassOutcome): void;
}

export interface SessionManagerOptions {
  store: SessionStore;
  logger: Logger;
  events: EventBus;
  /** Opens WhatsApp connections. Without it, sessions are records only (no sockets). */
  connections?: ConnectionFactory;
  /** Keeps each session's messages (opened and closed by the caller). Without it none are kept. */
  messages?: MessageStore;
  /**
   * The leases this node holds sessions under. Defaults to this process alone, in memory: right
   * for a store only one process can open (the file store).
   */
  ownership?: OwnershipSettings;
  /** Told what ownership does (metrics). */
  ownershipObserver?: OwnershipObserver;
  /** Tells the other nodes of a store shared by several what changed (none for the file store). */
  signals?: ClusterSignals;
  /**
   * Whether only this process uses the store (the file store, behind its lock): restore then
   * repairs what a crash can leave (records without credentials, credentials without a record).
   * Defaults to true; a store shared by nodes is left to the nodes that own its sessions.
   */
  exclusiveStore?: boolean;
  /** How many sessions may be logging in at once (restores and takeovers). */
  restoreConcurrency?: number;
  /** The only hosts session webhooks may point at (`WEBHOOK_ALLOWED_HOSTS`); empty allows any. */
  webhookAllowedHosts?: readonly string[];
  /** How long one starting session may take to settle before its start slot is freed. */
  restoreSettleTimeoutMs?: number;
  /** How many sent messages' statuses are remembered (in memory) to match receipts. */
  trackedMessages?: number;
  /** Whether the store can write (a full disk); without it, it is assumed to. */
  storage?: StorageHealth;
  /** How many status changes are kept per session for `live()` (in memory). */
  statusHistoryLength?: number;
  clock?: () => Date;
  newId?: () => string;
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

/** A session as the API shows it: its record, and the node that runs it. */
export type SessionView = SessionRecord & {
  /** The `NODE_ID` holding the session's lease; `null` while no node runs it. */
  node: string | null;
};

/** What `restore()` did, for logging and for the startup banner. */
export interface RestoreReport {
  load: StoreLoadReport;
  restored: SessionId[];
  /** Metadata entries dropped because their session had no credentials left. */
  cleanedUp: SessionId[];
  /** Auth folders without metadata that became sessions. */
  adopted: SessionId[];
}

/** Restore progress and the store's health, as `/ready` reports them. */
export interface Readiness {
  ready: boolean;
  restoreStarted: boolean;
  total: number;
  settled: number;
  /** False while the store cannot write (a full disk): not ready then either. */
  storageWritable: boolean;
}

/** What this node knows of a session beyond its record: recent changes, storage trouble. */
export interface SessionLiveState {
  /** The latest status changes this node saw, oldest first. */
  statusHistory: StatusChange[];
  /** Set while the store cannot write; `unwrittenAuthFiles` wait in memory for space. */
  storageProblem: (StorageProblem & { unwrittenAuthFiles: number }) | null;
}

/** How many sessions' webhooks created here are remembered until their owner runs them. */
const KNOWN_WEBHOOKS_LIMIT = 10_000;

/**
 * The sessions as the API sees them, on any node. Records are read from the store (or, for the
 * sessions this node runs, from memory, which is newer); operations that need a session's socket
 * go to the `SessionRuntime` of this node when it runs the session, and otherwise throw
 * `OwnerUnavailableError` (the HTTP layer forwards them to the owner before they get here).
 * Which node runs which session is decided by the ownership loop (`SessionOwnership`).
 */
export class SessionManager {
  readonly #store: SessionStore;
  readonly #logger: Logger;
  readonly #events: EventBus;
  readonly #clock: () => Date;
  readonly #newId: () => string;
  readonly #webhookAllowedHosts: readonly string[];
  readonly #exclusiveStore: boolean;
  readonly #messages?: MessageStore;
  readonly #storage?: StorageHealth;
  readonly #statusHistory: StatusHistory;
  readonly #hasConnections: boolean;
  readonly #lock: LeaseLock;
  readonly #registry: NodeRegistry;
  readonly #ownership: SessionOwnership;
  readonly #runtime: SessionRuntime;
  readonly #signals?: ClusterSignals;
  /** Webhooks of sessions created or edited here, for events published before an owner runs them. */
  readonly #knownWebhooks = new Map<SessionId, readonly Webhook[]>();

  #opened = false;
  #shuttingDown = false;
  #restore = { started: false, finished: false };

  constructor(options: SessionManagerOptions) {
    this.#store = options.store;
    this.#logger = options.logger;
    this.#events = options.events;
    this.#clock = options.clock ?? (() => new Date());
    this.#newId = options.newId ?? (() => crypto.randomUUID());
    this.#webhookAllowedHosts = options.webhookAllowedHosts ?? [];
    this.#exclusiveStore = options.exclusiveStore ?? true;
    this.#messages = options.messages;
    this.#storage = options.storage;
    this.#statusHistory = new StatusHistory(options.statusHistoryLength ?? 20);
    this.#hasConnections = options.connections !== undefined;
    const settings = options.ownership ?? localOwnership();
    const observer = options.ownershipObserver ?? {};
    this.#signals = options.signals;
    this.#lock = settings.lock;
    this.#registry = settings.registry;
    this.#runtime = new SessionRuntime({
      store: options.store,
      logger: options.logger,
      events: options.events,
      connections: options.connections,
      messages: options.messages,
      fenceOf: (id) => this.#ownership.fenceOf(id),
      onFenced: (fence) => {
        observer.onFenced?.(fence);
        void this.#ownership.lost(fence, "fenced");
      },
      onDeleted: (id) => {
        void this.#ownership.forget(id).then(() => this.#signals?.send({ kind: "placement" }));
      },
      startConcurrency: options.restoreConcurrency ?? 16,
      settleTimeoutMs: options.restoreSettleTimeoutMs ?? 30_000,
      trackedMessages: options.trackedMessages ?? 10_000,
      storage: options.storage,
      statusHistory: this.#statusHistory,
      now: () => this.#now(),
    });
    this.#ownership = new SessionOwnership({
      lock: settings.lock,
      registry: settings.registry,
      node: settings.node,
      ttlMs: settings.ttlMs,
      renewIntervalMs: settings.renewIntervalMs,
      sessions: async () => {
        const records = await this.#store.list();
        // Every pass catches up with edits made on other nodes, signalled or not.
        for (const record of records) this.#runtime.specChanged(record);
        return records.map((record) => record.id);
      },
      listener: {
        onAcquired: (lease) => {
          observer.onAcquired?.(lease);
          this.#runtime.onAcquired(lease);
        },
        onLost: (id, reason) => {
          observer.onLost?.(id, reason);
          return this.#runtime.onLost(id, reason);
        },
      },
      onPass: observer.onPass,
      onReleased: () => this.#signals?.send({ kind: "placement" }),
      logger: options.logger.child({ component: "ownership" }),
    });
  }

  /** Reloads a session's spec from the store, if this node runs it (another node edited it). */
  async reloadSpec(id: SessionId): Promise<void> {
    if (!this.#runtime.holds(id)) return;
    const record = await this.#store.get(id);
    if (record) this.#runtime.specChanged(record);
  }

  /** The ownership loop of this node (for metrics, the cluster API and request forwarding). */
  get ownership(): SessionOwnership {
    return this.#ownership;
  }

  /**
   * Opens the store and checks every persisted session. With a store only this process uses,
   * sessions whose credentials are gone are cleaned up (except `logged_out` ones, kept so
   * operators see what happened) and auth folders without a record are adopted. Connects nothing:
   * see `connectRestored`.
   */
  async restore(): Promise<RestoreReport> {
    if (this.#opened) throw new Error("SessionManager.restore() called twice");
    const load = await this.#store.open();
    this.#opened = true;
    const report: RestoreReport = { load, restored: [], cleanedUp: [], adopted: [] };
    if (!this.#exclusiveStore) {
      report.restored = load.sessions.map((record) => record.id);
      return report;
    }
    const withAuth = new Set(await this.#store.listAuth());
    const known = new Set<SessionId>();
    for (const record of load.sessions) {
      if (withAuth.has(record.id) || record.status === "logged_out") {
        known.add(record.id);
        report.restored.push(record.id);
      } else {
        await this.#store.remove(record.id);
        report.cleanedUp.push(record.id);
      }
    }
    // What the last run reported no longer holds: until a connection says otherwise, a restored
    // session is not connected (durably, so that every read says so).
    await Promise.all(
      load.sessions
        .filter((r) => known.has(r.id) && r.status !== "disconnected" && r.status !== "logged_out")
        .map((r) => this.#store.report(singleOwnerFence(r.id), { status: "disconnected" })),
    );
    for (const id of withAuth) {
      if (known.has(id)) continue;
      await this.#store.create(this.#newRecord(id, null, this.#now()));
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
   * Starts this node's ownership loop: its first pass takes the sessions that fall to this node
   * (all of them, for a single process), which then connect `restoreConcurrency` at a time.
   * Resolves once each has settled (connected, waiting for a QR, failed, …) or timed out.
   */
  async connectRestored(): Promise<void> {
    this.#assertOpen();
    this.#runtime.beginStartBatch();
    this.#restore.started = true;
    try {
      await this.#ownership.start();
      await this.#runtime.startsIdle();
    } finally {
      this.#restore.finished = true;
    }
  }

  /** Whether the first ownership pass is done and every session it took has settled. */
  get readiness(): Readiness {
    const progress = this.#runtime.startProgress;
    const storageWritable = !this.#storage?.problem;
    return {
      ready: this.#restore.started && this.#restore.finished && !this.#shuttingDown &&
        storageWritable,
      restoreStarted: this.#restore.started,
      total: progress.total,
      settled: progress.settled,
      storageWritable,
    };
  }

  /** What this node knows of a session beyond its record (recent changes, storage trouble). */
  live(id: SessionId): SessionLiveState {
    const problem = this.#storage?.problem ?? null;
    return {
      statusHistory: this.#statusHistory.of(id),
      storageProblem: problem
        ? { ...problem, unwrittenAuthFiles: this.#storage!.unwrittenAuthFiles(id) }
        : null,
    };
  }

  /** Every session, oldest first, with the node that runs it. */
  async list(): Promise<SessionView[]> {
    this.#assertOpen();
    const [records, owners] = await Promise.all([this.#store.list(), this.#owners()]);
    return records
      .map((record) => this.#view(this.#runtime.record(record.id) ?? record, owners))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** One session; throws `SessionNotFoundError` or `InvalidSessionIdError`. */
  async get(id: string): Promise<SessionView> {
    const sessionId = this.#validId(id);
    const held = this.#runtime.record(sessionId);
    if (held) return { ...held, node: this.#ownership.identity };
    const [record, lease] = await Promise.all([
      this.#store.get(sessionId),
      this.#lock.get(sessionId),
    ]);
    if (!record) throw new SessionNotFoundError(sessionId);
    return { ...record, node: lease && !lease.expired ? lease.holder : null };
  }

  /** The sessions this node runs (what `/metrics` counts on this node). */
  runningHere(): SessionRecord[] {
    return this.#runtime.records();
  }

  /**
   * Creates a session, stores it, and has it run: on this node when it is the least loaded (it
   * is connected before this resolves), otherwise on the node that takes it.
   */
  async create(input: CreateSessionInput): Promise<SessionView> {
    this.#assertAcceptingWork();
    const id = input.id ?? this.#newId();
    if (!isSessionId(id)) throw new InvalidSessionIdError(id);
    const record: SessionRecord = {
      ...this.#newRecord(id, input.name ?? null, this.#now()),
      webhooks: webhooksToStore(input.webhooks ?? [], [], this.#webhookAllowedHosts),
    };
    // Before the record exists: any node's pass may take it the moment it does.
    const opened = this.#runtime.expectFresh(id);
    try {
      await this.#store.create(record);
    } catch (error) {
      this.#runtime.forgetFresh(id);
      if (!(error instanceof SessionAlreadyExistsError)) {
        // The store keeps a failed change in memory for its next write: take it back out.
        await this.#store.remove(id).catch(() => {});
      }
      throw error;
    }
    this.#signals?.send({ kind: "placement" });
    this.#remember(id, record.webhooks ?? []);
    this.#statusHistory.record(record, null, record.createdAt);
    this.#logger.info({ sessionId: id }, "session created");
    this.#events.publish({
      type: "session.status",
      sessionId: id,
      status: record.status,
      previousStatus: null,
      session: publicSession(record),
      at: record.createdAt,
    });
    await this.#ownership.pass();
    if (this.#ownership.holds(id)) {
      await opened;
    } else {
      this.#runtime.forgetFresh(id);
    }
    return await this.get(id);
  }

  /** Changes a session's operator-facing fields (any node; the owner's copy follows). */
  async update(id: string, input: UpdateSessionInput): Promise<SessionView> {
    this.#assertAcceptingWork();
    const sessionId = this.#validId(id);
    const updatedAt = this.#now();
    const record = await this.#store.updateSpec(sessionId, (current) => ({
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.webhooks !== undefined
        ? {
          webhooks: webhooksToStore(
            input.webhooks,
            current.webhooks ?? [],
            this.#webhookAllowedHosts,
          ),
        }
        : {}),
      updatedAt,
    }));
    this.#remember(sessionId, record.webhooks ?? []);
    this.#runtime.specChanged(record);
    if (!this.#runtime.holds(sessionId)) this.#signals?.send({ kind: "spec", sessionId });
    return await this.get(sessionId);
  }

  /**
   * Deletes a session: logs it out on WhatsApp when it is connected, then removes its credentials
   * and its record.
   */
  async delete(id: string): Promise<void> {
    await this.#runtime.delete(await this.#runHere(id));
    this.#knownWebhooks.delete(id as SessionId);
  }

  /** Starts (or keeps running) a session's connection and remembers that it should run. */
  async start(id: string): Promise<SessionView> {
    return this.#here(await this.#runtime.start(await this.#runHere(id)));
  }

  /** Closes a session's connection without logging out; it stays stopped across restarts. */
  async stop(id: string): Promise<SessionView> {
    return this.#here(await this.#runtime.stop(await this.#runHere(id)));
  }

  /** Closes and reopens a session's connection (credentials kept). */
  async restart(id: string): Promise<SessionView> {
    return this.#here(await this.#runtime.restart(await this.#runHere(id)));
  }

  /**
   * Logs a connected session out on WhatsApp and deletes its credentials. The metadata stays,
   * with status `logged_out`, so the session can be linked again with `start`.
   */
  async logout(id: string): Promise<SessionView> {
    return this.#here(await this.#runtime.logout(await this.#runHere(id)));
  }

  /** The QR code a session is waiting to have scanned; throws when there is none. */
  async qr(id: string): Promise<string> {
    return this.#runtime.qr(await this.#runHere(id, { duringShutdown: true }));
  }

  /**
   * A pairing code for linking `id` by typing it on the phone of `phoneNumber` (digits) instead of
   * scanning the QR code. Throws `QrNotAvailableError` unless the session waits to be linked.
   */
  async requestPairingCode(id: string, phoneNumber: string): Promise<string> {
    return await this.#runtime.requestPairingCode(await this.#runHere(id), phoneNumber);
  }

  /** The webhooks configured on a session, secrets included; none for an unknown session. */
  webhooksOf(id: SessionId): readonly Webhook[] {
    return this.#runtime.record(id)?.webhooks ?? this.#knownWebhooks.get(id) ?? [];
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
    return await this.#runtime.sendMessage(await this.#runHere(id), to, message, options);
  }

  /**
   * Throws what `sendMessage` would for a session that cannot send now (unknown, run by another
   * node, not connected, disk full, shutting down): lets a caller refuse before preparing
   * something costly, such as a file.
   */
  async assertCanSend(id: string): Promise<void> {
    this.#runtime.assertCanSend(await this.#runHere(id));
  }

  /** A session's chats, the most recently active first (empty without a message store). */
  async chats(id: string, page: PageRequest): Promise<Page<ChatSummary>> {
    const record = await this.get(id);
    if (!this.#messages) return { items: [], nextCursor: null };
    return await this.#messages.chats(record.id, page);
  }

  /** A chat's stored messages, newest first (see `MessageStore.history`). */
  async history(id: string, chat: string, page: HistoryRequest): Promise<Page<StoredMessage>> {
    const record = await this.get(id);
    if (!this.#messages) return { items: [], nextCursor: null };
    return await this.#messages.history(record.id, chat, page);
  }

  /** One stored message of a session; `undefined` when it is not stored. */
  async storedMessage(id: string, messageId: string): Promise<StoredMessage | undefined> {
    const record = await this.get(id);
    return await this.#messages?.get(record.id, messageId);
  }

  /** Publishes a poll vote, an edit or a deletion as its event. */
  publishActivity(id: SessionId, activity: MessageActivity): void {
    this.#runtime.publishActivity(id, activity);
  }

  /**
   * The session and its live connection on this node; `SessionStateError`
   * (`session_not_connected`) unless it is connected. `what` completes "only a connected session
   * can …".
   */
  async connected(
    id: string,
    what: string,
  ): Promise<{ record: SessionRecord; connection: SessionConnection }> {
    return this.#runtime.connected(await this.#runHere(id), what);
  }

  /**
   * The fence this node writes a session's messages and records under; `OwnerUnavailableError`
   * when this node does not run the session.
   */
  fenceOf(id: SessionId): Fence {
    const fence = this.#ownership.fenceOf(id);
    if (!fence) {
      throw new OwnerUnavailableError(`This node does not run session '${id}'; retry shortly`, 1);
    }
    return fence;
  }

  /** Which phone numbers (digits) have WhatsApp, asked through a connected session. */
  async checkNumbers(id: string, phoneNumbers: string[]): Promise<NumberCheck[]> {
    return await this.#runtime.checkNumbers(await this.#runHere(id), phoneNumbers);
  }

  /** Runs a group, contact or profile operation through a connected session. */
  async run<K extends AccountOperationKind>(
    id: string,
    operation: AccountOperationOf<K>,
  ): Promise<AccountOperationResult<K>> {
    return await this.#runtime.run(await this.#runHere(id), operation);
  }

  /**
   * Stops accepting work, closes every connection this node runs without logging it out,
   * releases their leases (so other nodes take them at once) and waits for every pending write.
   * Sessions keep their desired state, so a restart reconnects them.
   */
  async shutdown(): Promise<void> {
    this.#shuttingDown = true;
    await this.#ownership.stop();
    await this.#runtime.close();
    if (this.#opened) await this.#store.flush();
  }

  // --- helpers --------------------------------------------------------------------------------

  /**
   * The id of a session this node runs, for an operation on its socket: 404 for an unknown one,
   * 503 `owner_unavailable` when another node (or none, right now) runs it.
   */
  async #runHere(id: string, options: { duringShutdown?: boolean } = {}): Promise<SessionId> {
    if (!options.duringShutdown) this.#assertAcceptingWork();
    const sessionId = this.#validId(id);
    if (this.#runtime.holds(sessionId)) return sessionId;
    if (!(await this.#store.get(sessionId))) throw new SessionNotFoundError(sessionId);
    throw new OwnerUnavailableError(
      `Session '${sessionId}' is not running on any node right now; retry shortly`,
      1,
    );
  }

  #here(record: SessionRecord): SessionView {
    return { ...record, node: this.#ownership.identity };
  }

  async #owners(): Promise<Map<SessionId, string>> {
    const owners = new Map<SessionId, string>();
    for (const lease of await this.#lock.list()) {
      if (lease.holder !== null && !lease.expired) owners.set(lease.sessionId, lease.holder);
    }
    return owners;
  }

  #view(record: SessionRecord, owners: ReadonlyMap<SessionId, string>): SessionView {
    const node = this.#runtime.holds(record.id)
      ? this.#ownership.identity
      : owners.get(record.id) ?? null;
    return { ...record, node };
  }

  #remember(id: SessionId, webhooks: readonly Webhook[]): void {
    this.#knownWebhooks.delete(id);
    this.#knownWebhooks.set(id, webhooks);
    if (this.#knownWebhooks.size > KNOWN_WEBHOOKS_LIMIT) {
      this.#knownWebhooks.delete(this.#knownWebhooks.keys().next().value!);
    }
  }

  #newRecord(id: SessionId, name: string | null, now: string): SessionRecord {
    return {
      id,
      name,
      status: this.#hasConnections ? "initializing" : "disconnected",
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

  #validId(id: string): SessionId {
    this.#assertOpen();
    if (!isSessionId(id)) throw new InvalidSessionIdError(id);
    return id;
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

/** This process as the only node, its leases in memory (a store only it can open). */
function localOwnership(): OwnershipSettings {
  const table = new LocalLeaseTable();
  return {
    lock: table.lock("local"),
    registry: table.registry,
    node: { id: "local", url: "http://127.0.0.1" },
    ttlMs: 60_000,
  };
}
