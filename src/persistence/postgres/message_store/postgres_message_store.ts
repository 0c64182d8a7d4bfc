import type { Sql, TransactionSql } from "postgres";
import { PersistenceError, ValidationError } from "../../../domain/errors.ts";
import type { Fence } from "../../../domain/fence.ts";
import type {
  ChatSummary,
  HistoryRequest,
  IdempotencyRecord,
  IdempotencyRecords,
  IdempotentResponse,
  MessagePatch,
  MessageRetention,
  MessageStore,
  MessageStoreLoadReport,
  NewIdempotencyRecord,
  Page,
  PageRequest,
  SessionMessagesDump,
  StoredMessage,
} from "../../../domain/message_store.ts";
import { isSessionId, type SessionId } from "../../../domain/session_id.ts";
import { KeyedLock } from "../../../lib/keyed_lock.ts";
import type { Logger } from "../../../logger.ts";
import type { ValueSealer } from "../../sealed_value.ts";
import { assertFence } from "../fence_check.ts";
import { migrate } from "../migrations.ts";
import { transaction } from "../transaction.ts";
import { retryTransient } from "../transient_errors.ts";
import { prepareMessagesAtRest } from "./messages_at_rest.ts";
import { chatsQuery, historyQuery, type PageQueryContext } from "./message_page_queries.ts";
import {
  type BodyRow,
  chatColumn,
  idempotencyBody,
  messageColumns,
  RowDecoder,
} from "./message_rows.ts";
import { enforceSizeCap, lockSessionBytes, pruneMessages } from "./message_retention.ts";
import { updateMessages, upsertMessages } from "./message_writes.ts";

/** Options of {@linkcode PostgresMessageStore}. */
export interface PostgresMessageStoreOptions {
  /** The client; the store does not end it (the composition root does). */
  sql: Sql;
  /** This node's id (`NODE_ID`): the lease holder every write is checked against. */
  nodeId: string;
  logger: Logger;
  retention: MessageRetention;
  /** Seals every body and blinds every chat (set with an encryption key). */
  sealer?: ValueSealer;
  clock?: () => Date;
}

/**
 * `MessageStore` on PostgreSQL, shared by every node (tables in `../migrations.ts`). Every write
 * is one transaction that first checks the writer's fence (`fence_check.ts`: a stale one is
 * refused with `FencedOutError` and nothing is written), then locks the session's
 * `message_sessions` row, so writes of one session (and the retention) apply one at a time and
 * its byte count stays exact. Writes of this process are queued per session, so they apply in
 * call order, and tried again while the database restarts (`transient_errors.ts`). Reads need no
 * fence. Every row read back is validated (`message_rows.ts`); an invalid one is reported (an
 * error for `get`, a log line for listings) and left in the table.
 *
 * @example
 * ```ts
 * const store = new PostgresMessageStore({ sql, nodeId: "node-a", logger, retention });
 * await store.open();
 * await store.put({ sessionId: "shop-1", epoch: lease.epoch }, [message]);
 * ```
 */
export class PostgresMessageStore implements MessageStore {
  readonly idempotency: IdempotencyRecords;
  readonly #sql: Sql;
  readonly #nodeId: string;
  readonly #logger: Logger;
  readonly #retention: MessageRetention;
  readonly #sealer?: ValueSealer;
  readonly #clock: () => Date;
  readonly #writes = new KeyedLock();
  /** Per session, the group of puts queued and not yet started (see `#batchedPut`). */
  readonly #waitingPuts = new Map<
    SessionId,
    { epoch: number; messages: StoredMessage[]; done: Promise<void> }
  >();
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #pages: PageQueryContext;
  #state: "new" | "open" | "closed" = "new";

  constructor(options: PostgresMessageStoreOptions) {
    this.#sql = options.sql;
    this.#nodeId = options.nodeId;
    this.#logger = options.logger;
    this.#retention = options.retention;
    this.#sealer = options.sealer;
    this.#clock = options.clock ?? (() => new Date());
    this.#pages = {
      sql: this.#sql,
      sealer: this.#sealer,
      logger: this.#logger,
      decoder: (id) => this.#decoder(id),
    };
    this.idempotency = {
      claim: (fence, record) => this.#claim(fence, record),
      complete: (fence, key, response) => this.#complete(fence, key, response),
      release: (fence, key) =>
        this.#write(fence, "idempotency release", async (tx, id) => {
          await tx`DELETE FROM idempotency_records WHERE session_id = ${id} AND key = ${key}`;
          return null;
        }),
    };
  }

  /**
   * Applies the migrations, makes the rows fit the key (`messages_at_rest.ts`: plaintext rows
   * sealed with a key, `EncryptionKeyError` for sealed rows without one) and counts what is stored.
   */
  async open(): Promise<MessageStoreLoadReport> {
    if (this.#state !== "new") throw new PersistenceError("The message store is already open");
    await migrate(this.#sql, this.#logger);
    const repairs = await prepareMessagesAtRest(this.#sql, this.#sealer, this.#logger);
    const sessions = await this.#sql<{ session_id: string; messages: string }[]>`
      SELECT session_id, sum(messages) AS messages FROM (
        SELECT session_id, count(*) AS messages FROM messages GROUP BY session_id
        UNION ALL
        SELECT DISTINCT session_id, 0 FROM idempotency_records
      ) stored GROUP BY session_id ORDER BY session_id`;
    this.#state = "open";
    const sessionIds = sessions.map((row) => row.session_id).filter(isSessionId);
    return {
      sessionIds,
      sessions: sessionIds.length,
      messages: sessions.reduce((sum, row) => sum + Number(row.messages), 0),
      repairs,
    };
  }

  put(fence: Fence, messages: readonly StoredMessage[]): Promise<void> {
    this.#assertOpen();
    // Already past the retention (old history): never stored.
    const oldest = this.#clock().getTime() - this.#retention.maxAgeMs;
    const kept = messages.filter((message) => message.timestamp >= oldest);
    if (kept.length === 0) return Promise.resolve();
    return this.#batchedPut(fence, kept);
  }

  patch(fence: Fence, patches: readonly MessagePatch[]): Promise<void> {
    this.#assertOpen();
    if (patches.length === 0) return Promise.resolve();
    return this.#write(fence, "message patch", async (tx, id) => {
      const ids = [...new Set(patches.map((patch) => patch.id))];
      const rows = await tx<(BodyRow & { size: number })[]>`
        SELECT id, body, size FROM messages WHERE session_id = ${id} AND id = ANY(${ids}::text[])`;
      const decoder = this.#decoder(id);
      const current = new Map<string, { message: StoredMessage; size: number }>();
      for (const row of rows) {
        current.set(row.id, { message: decoder.requireMessage(row), size: row.size });
      }
      const changed = new Map<string, StoredMessage>();
      for (const { id: messageId, ...fields } of patches) {
        const entry = changed.get(messageId) ?? current.get(messageId)?.message;
        if (!entry) continue; // unknown ids are ignored
        changed.set(messageId, { ...entry, ...definedFields(fields) });
      }
      return await this.#rewrite(tx, id, changed, current);
    });
  }

  async get(sessionId: SessionId, messageId: string): Promise<StoredMessage | undefined> {
    this.#assertOpen();
    const [row] = await this.#sql<BodyRow[]>`
      SELECT id, body FROM messages WHERE session_id = ${sessionId} AND id = ${messageId}`;
    return row ? this.#decoder(sessionId).requireMessage(row) : undefined;
  }

  chats(sessionId: SessionId, page: PageRequest): Promise<Page<ChatSummary>> {
    this.#assertOpen();
    return chatsQuery(this.#pages, sessionId, page);
  }

  history(sessionId: SessionId, chat: string, page: HistoryRequest): Promise<Page<StoredMessage>> {
    this.#assertOpen();
    return historyQuery(this.#pages, sessionId, chat, page);
  }

  async markRead(fence: Fence, chat: string, messageIds?: readonly string[]): Promise<number> {
    this.#assertOpen();
    let marked = 0;
    await this.#write(fence, "mark read", async (tx, id) => {
      const rows = await tx<(BodyRow & { size: number })[]>`
        SELECT id, body, size FROM messages
        WHERE session_id = ${id} AND chat = ${chatColumn(id, chat, this.#sealer)} AND to_read
          ${messageIds ? tx`AND id = ANY(${[...messageIds]}::text[])` : tx``}`;
      const decoder = this.#decoder(id);
      const current = new Map<string, { message: StoredMessage; size: number }>();
      const changed = new Map<string, StoredMessage>();
      for (const row of rows) {
        const message = decoder.requireMessage(row);
        current.set(row.id, { message, size: row.size });
        changed.set(row.id, { ...message, read: true });
      }
      marked = changed.size;
      return await this.#rewrite(tx, id, changed, current);
    });
    return marked;
  }

  prune(now: Date): Promise<number> {
    this.#assertOpen();
    return this.#track(pruneMessages({
      sql: this.#sql,
      retention: this.#retention,
      now,
      retry: (what, attempt) => this.#retry(what, attempt),
    }));
  }

  deleteSession(fence: Fence): Promise<void> {
    this.#assertOpen();
    return this.#write(fence, "message store delete", async (tx, id) => {
      await tx`DELETE FROM messages WHERE session_id = ${id}`;
      await tx`DELETE FROM idempotency_records WHERE session_id = ${id}`;
      await tx`DELETE FROM message_sessions WHERE session_id = ${id}`;
      return null;
    });
  }

  /**
   * Every stored message of a session in store order, and its idempotency records (by key), for
   * `deno task migrate-store`.
   */
  async dump(sessionId: SessionId): Promise<SessionMessagesDump> {
    this.#assertOpen();
    const decoder = this.#decoder(sessionId);
    const messages = await this.#sql<BodyRow[]>`
      SELECT id, body FROM messages WHERE session_id = ${sessionId} ORDER BY seq`;
    const records = await this.#sql<BodyRow[]>`
      SELECT key AS id, body FROM idempotency_records WHERE session_id = ${sessionId} ORDER BY key`;
    return {
      messages: messages.map((row) => decoder.requireMessage(row)),
      idempotency: records.map((row) => decoder.requireIdempotency(row)),
    };
  }

  /** Every write resolves once committed; this waits for those still in flight. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }

  async close(): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "closed";
    await Promise.allSettled([...this.#inFlight]);
  }

  async #claim(fence: Fence, record: NewIdempotencyRecord): Promise<IdempotencyRecord | null> {
    let existing: IdempotencyRecord | null = null;
    await this.#write(fence, "idempotency claim", async (tx, id, attempt) => {
      const mine: IdempotencyRecord = { ...record, response: null };
      // One statement: of two nodes claiming one key, the second waits for the first's row and
      // then finds it live, so exactly one of them wins.
      const won = await tx`
        INSERT INTO idempotency_records AS r (session_id, key, expires_at, body)
        VALUES (${id}, ${record.key}, ${record.createdAt + record.expiresAfterMs},
          ${idempotencyBody(id, mine, this.#sealer)}::text::jsonb)
        ON CONFLICT (session_id, key) DO UPDATE
          SET expires_at = excluded.expires_at, body = excluded.body
          WHERE r.expires_at <= ${record.createdAt}
        RETURNING 1`;
      if (won.length > 0) return null;
      const [row] = await tx<BodyRow[]>`
        SELECT key AS id, body FROM idempotency_records
        WHERE session_id = ${id} AND key = ${record.key}`;
      const found = this.#decoder(id).requireIdempotency(row);
      // A retry after a lost answer finds its own claim: the first attempt won.
      const own = attempt > 1 && found.response === null && found.messageId === record.messageId &&
        found.createdAt === record.createdAt && found.requestHash === record.requestHash;
      existing = own ? null : found;
      return null;
    });
    return existing;
  }

  #complete(fence: Fence, key: string, response: IdempotentResponse): Promise<void> {
    return this.#write(fence, "idempotency complete", async (tx, id) => {
      const [row] = await tx<BodyRow[]>`
        SELECT key AS id, body FROM idempotency_records WHERE session_id = ${id} AND key = ${key}`;
      if (!row) return null;
      const record = { ...this.#decoder(id).requireIdempotency(row), response };
      await tx`
        UPDATE idempotency_records SET body = ${
        idempotencyBody(id, record, this.#sealer)
      }::text::jsonb
        WHERE session_id = ${id} AND key = ${key}`;
      return null;
    });
  }

  /**
   * Runs one fenced write of the fence's session: queued behind this process's earlier writes of
   * the session, in a transaction that checks the fence and locks the session's byte count.
   * `work` returns how many bytes it added (`null` for none); the size cap is then enforced.
   */
  #write(
    fence: Fence,
    what: string,
    work: (tx: TransactionSql, id: SessionId, attempt: number) => Promise<number | null>,
  ): Promise<void> {
    this.#assertOpen();
    if (!isSessionId(fence?.sessionId)) throw new ValidationError("Invalid session id");
    // A put after this write must not join a group of puts queued before it.
    this.#waitingPuts.delete(fence.sessionId);
    return this.#enqueue(fence, what, work);
  }

  /** `#write` without ending the session's group of waiting puts. */
  #enqueue(
    fence: Fence,
    what: string,
    work: (tx: TransactionSql, id: SessionId, attempt: number) => Promise<number | null>,
  ): Promise<void> {
    const id = fence.sessionId;
    return this.#track(
      this.#writes.run(
        id,
        () =>
          this.#retry(what, (attempt) =>
            transaction(this.#sql, async (tx) => {
              // Pipelined, run in this order: a stale fence fails the first, and both roll back.
              const [, before] = await Promise.all([
                assertFence(tx, fence, this.#nodeId),
                lockSessionBytes(tx, id),
              ]);
              const added = await work(tx, id, attempt);
              if (added === null || added === 0) return;
              const cap = this.#retention.maxBytesPerSession;
              const { bytes } = await enforceSizeCap(tx, id, before + added, cap);
              await tx`UPDATE message_sessions SET bytes = ${bytes} WHERE session_id = ${id}`;
            })),
      ).then(() => {}),
    );
  }

  /** Writes changed messages back in place; returns the bytes added. */
  #rewrite(
    tx: TransactionSql,
    sessionId: SessionId,
    changed: ReadonlyMap<string, StoredMessage>,
    current: ReadonlyMap<string, { size: number }>,
  ): Promise<number> {
    const rows = [...changed.values()].map((m) => messageColumns(sessionId, m, this.#sealer));
    return updateMessages(tx, sessionId, rows, current);
  }

  /**
   * Puts of a session that wait behind its write in progress go in one transaction together
   * (a group commit), in call order; any other write of the session starts a new group, so
   * every write still applies in call order.
   */
  #batchedPut(fence: Fence, messages: StoredMessage[]): Promise<void> {
    this.#assertOpen();
    if (!isSessionId(fence?.sessionId)) throw new ValidationError("Invalid session id");
    const waiting = this.#waitingPuts.get(fence.sessionId);
    if (waiting && waiting.epoch === fence.epoch) {
      waiting.messages.push(...messages);
      return waiting.done;
    }
    const group = { epoch: fence.epoch, messages, done: Promise.resolve() };
    this.#waitingPuts.set(fence.sessionId, group);
    group.done = this.#enqueue(fence, "message put", (tx, id) => {
      if (this.#waitingPuts.get(id) === group) this.#waitingPuts.delete(id);
      const latest = new Map<string, StoredMessage>();
      for (const message of group.messages) {
        latest.delete(message.id); // a later put of the same id is stored after the others
        latest.set(message.id, message);
      }
      const rows = [...latest.values()].map((m) => messageColumns(id, m, this.#sealer));
      return upsertMessages(tx, id, rows);
    });
    return group.done;
  }

  #decoder(sessionId: SessionId): RowDecoder {
    return new RowDecoder(sessionId, this.#sealer);
  }

  #retry<T>(what: string, attempt: (attempt: number) => Promise<T>): Promise<T> {
    return retryTransient(attempt, { logger: this.#logger, what });
  }

  #track<T>(write: Promise<T>): Promise<T> {
    this.#inFlight.add(write);
    write.then(() => this.#inFlight.delete(write), () => this.#inFlight.delete(write));
    return write;
  }

  #assertOpen(): void {
    if (this.#state !== "open") throw new PersistenceError("The message store is not open");
  }
}

function definedFields<T extends object>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<
    T
  >;
}
