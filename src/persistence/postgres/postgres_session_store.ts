import { isDeepStrictEqual } from "node:util";
import type { Sql } from "postgres";

import {
  InvalidSessionIdError,
  PersistenceError,
  SessionAlreadyExistsError,
  SessionNotFoundError,
  ValidationError,
} from "../../domain/errors.ts";
import type { Fence } from "../../domain/fence.ts";
import { type SessionRecord, SessionRecordSchema } from "../../domain/session.ts";
import { isSessionId, type SessionId } from "../../domain/session_id.ts";
import type {
  AuthFiles,
  QuarantinedEntry,
  SessionReportChange,
  SessionSpecChange,
  SessionStore,
  StoreLoadReport,
} from "../../domain/session_store.ts";
import { KeyedLock } from "../../lib/keyed_lock.ts";
import type { Logger } from "../../logger.ts";
import { type AuthFileCodec, plainCodec } from "../auth_file_codec.ts";
import type { ValueSealer } from "../sealed_value.ts";
import { pickReport, pickSpec } from "../session_record_fields.ts";
import { assertFence } from "./fence_check.ts";
import { migrate } from "./migrations.ts";
import { preparePostgresAuthAtRest } from "./postgres_auth_at_rest.ts";
import { PostgresAuthFiles } from "./postgres_auth_files.ts";
import { retryTransient } from "./transient_errors.ts";
import { recordFromRow, REPORT_COLUMNS, rowFromRecord, type SessionRow } from "./session_rows.ts";
import { transaction } from "./transaction.ts";

/** Options of {@linkcode PostgresSessionStore}. */
export interface PostgresSessionStoreOptions {
  /** The client; the store does not end it (the composition root does, after every user). */
  sql: Sql;
  /** This node's id (`NODE_ID`): the lease holder every fenced write is checked against. */
  nodeId: string;
  logger: Logger;
  /** How auth file contents are stored; as they are by default. */
  codec?: AuthFileCodec;
  /** Seals webhook secrets (set with an encryption key). */
  sealer?: ValueSealer;
  /** How often a spec change is tried against concurrent writers before giving up. */
  maxSpecAttempts?: number;
}

/** The report half's values, validated like the record's own fields. */
const ReportChangeSchema = SessionRecordSchema.pick({
  status: true,
  phoneNumber: true,
  pushName: true,
  connectedAt: true,
  lastDisconnectedAt: true,
  lastDisconnect: true,
  updatedAt: true,
}).partial();

const SESSION_COLUMNS = `id, created_at, updated_at, name, webhooks, desired_state, spec_version,
  status, phone_number, push_name, connected_at, last_disconnected_at, last_disconnect`;

/**
 * `SessionStore` on PostgreSQL, for several nodes sharing one database (see
 * `src/persistence/postgres/migrations.ts` for the tables). Spec changes are compare-and-swaps on
 * `spec_version`; reports and auth writes are transactions that first check the writer's fence
 * (`fence_check.ts`). Every write is committed (synchronously) before it resolves; while the
 * database restarts or a connection breaks, writes are tried again (`transient_errors.ts`). Rows are
 * validated with the record's schema when read; an invalid one is reported (in the load report
 * and the log) and left as it is, never deleted.
 *
 * @example
 * ```ts
 * const store = new PostgresSessionStore({ sql: postgres(url), nodeId: "node-a", logger });
 * await store.open();
 * await store.report({ sessionId: "shop-1", epoch: lease.epoch }, { status: "connected" });
 * ```
 */
export class PostgresSessionStore implements SessionStore {
  readonly #sql: Sql;
  readonly #nodeId: string;
  readonly #logger: Logger;
  readonly #codec: AuthFileCodec;
  readonly #sealer?: ValueSealer;
  readonly #maxSpecAttempts: number;
  /** Serialises, per session, this process's spec changes (no retries among ourselves). */
  readonly #specs = new KeyedLock();
  /** Serialises, per session, this process's reports, so they apply in call order. */
  readonly #reports = new KeyedLock();
  /** Serialises, per session, this process's auth writes. */
  readonly #authWrites = new KeyedLock();
  readonly #inFlight = new Set<Promise<unknown>>();
  #state: "new" | "open" | "closed" = "new";

  constructor(options: PostgresSessionStoreOptions) {
    this.#sql = options.sql;
    this.#nodeId = options.nodeId;
    this.#logger = options.logger;
    this.#codec = options.codec ?? plainCodec;
    this.#sealer = options.sealer;
    this.#maxSpecAttempts = options.maxSpecAttempts ?? 1_000;
  }

  /**
   * Applies the migrations (under an advisory lock), checks the auth rows against the codec
   * (`EncryptionKeyError` before anything changes) and loads every session; invalid rows are
   * reported in `quarantined` and left in place.
   */
  async open(): Promise<StoreLoadReport> {
    if (this.#state !== "new") {
      throw new PersistenceError(`Cannot open a store that is ${this.#state}`);
    }
    await migrate(this.#sql, this.#logger);
    await preparePostgresAuthAtRest(this.#sql, this.#codec, this.#logger);
    const rows = await this.#sql<SessionRow[]>`
      SELECT ${this.#sql.unsafe(SESSION_COLUMNS)} FROM sessions ORDER BY id`;
    const sessions: SessionRecord[] = [];
    const quarantined: QuarantinedEntry[] = [];
    for (const row of rows) {
      const checked = recordFromRow(row, this.#sealer);
      if ("reason" in checked) quarantined.push({ key: row.id, reason: checked.reason });
      else sessions.push(checked.record);
    }
    if (quarantined.length > 0) {
      this.#logger.error(
        { entries: quarantined },
        "invalid session rows in the database: not loaded, left as they are",
      );
    }
    this.#state = "open";
    return { sessions, quarantined, corruptMetadata: null, rebuiltFromAuth: [] };
  }

  create(record: SessionRecord): Promise<void> {
    this.#assertUsable();
    const id = this.#checkId(record?.id);
    const parsed = this.#valid(record);
    return this.#track(this.#retry("create", async (attempt) => {
      const inserted = await this.#sql`
        INSERT INTO sessions ${this.#sql(rowFromRecord(parsed, this.#sealer))}
        ON CONFLICT (id) DO NOTHING RETURNING id`;
      if (inserted.length > 0) return;
      // A retry after a lost answer finds its own row: the first attempt committed.
      const row = attempt > 1 ? await this.#row(id) : undefined;
      if (row && isDeepStrictEqual(this.#recordOf(row), parsed)) return;
      throw new SessionAlreadyExistsError(id);
    }));
  }

  async get(id: SessionId): Promise<SessionRecord | undefined> {
    this.#assertUsable();
    const row = await this.#row(this.#checkId(id));
    return row ? this.#recordOf(row) : undefined;
  }

  async list(): Promise<SessionRecord[]> {
    this.#assertUsable();
    const rows = await this.#sql<SessionRow[]>`
      SELECT ${this.#sql.unsafe(SESSION_COLUMNS)} FROM sessions ORDER BY id`;
    const records: SessionRecord[] = [];
    for (const row of rows) {
      const checked = recordFromRow(row, this.#sealer);
      if ("record" in checked) records.push(checked.record);
      else {
        this.#logger.error({ sessionId: row.id, reason: checked.reason }, "invalid session row");
      }
    }
    return records;
  }

  /**
   * Changes the spec with a compare-and-swap on `spec_version`: `change` runs on the row as read,
   * and runs again on a newer one when another node changed the spec in between.
   */
  updateSpec(
    id: SessionId,
    change: (current: SessionRecord) => SessionSpecChange,
  ): Promise<SessionRecord> {
    this.#assertUsable();
    const checked = this.#checkId(id);
    return this.#track(this.#specs.run(checked, async () => {
      for (let attempt = 1; attempt <= this.#maxSpecAttempts; attempt++) {
        const row = await this.#retry("spec read", () => this.#row(checked));
        if (!row) throw new SessionNotFoundError(checked);
        const current = this.#recordOf(row);
        const next = this.#valid({ ...current, ...pickSpec(change(current)) });
        const stored = rowFromRecord(next, this.#sealer);
        const [updated] = await this.#retry("spec update", () =>
          this.#sql<SessionRow[]>`
          UPDATE sessions SET
            name = ${stored.name as string | null},
            webhooks = ${stored.webhooks as never},
            desired_state = ${stored.desired_state as string},
            updated_at = ${stored.updated_at as string | null},
            spec_version = spec_version + 1
          WHERE id = ${checked} AND spec_version = ${row.spec_version}
          RETURNING ${this.#sql.unsafe(SESSION_COLUMNS)}`);
        if (updated) return this.#recordOf(updated);
      }
      throw new PersistenceError(
        `Session '${checked}' changed ${this.#maxSpecAttempts} times while its spec was updated`,
      );
    }));
  }

  /** Writes the owner's report in one transaction that checks its fence first. */
  report(fence: Fence, fields: SessionReportChange): Promise<SessionRecord> {
    this.#assertUsable();
    const id = this.#checkId(fence?.sessionId);
    const picked = pickReport(fields);
    const parsed = ReportChangeSchema.safeParse(picked);
    if (!parsed.success) {
      throw new ValidationError(`Session report of '${id}' is invalid`, parsed.error.issues);
    }
    const columns: Record<string, unknown> = {};
    for (const [field, column] of Object.entries(REPORT_COLUMNS)) {
      // Only what the report names: the schema fills the fields it leaves out with their
      // defaults (a status, nulls), which would erase what earlier reports wrote.
      if (!(field in picked)) continue;
      columns[column] = (parsed.data as Record<string, unknown>)[field];
    }
    if (parsed.data.updatedAt !== undefined) columns.updated_at = parsed.data.updatedAt;
    return this.#track(this.#reports.run(id, async () => {
      const row = await this.#retry("report", () =>
        transaction(this.#sql, async (tx) => {
          await assertFence(tx, fence, this.#nodeId);
          const [updated] = Object.keys(columns).length > 0
            ? await tx<SessionRow[]>`
            UPDATE sessions SET ${tx(columns)} WHERE id = ${id}
            RETURNING ${tx.unsafe(SESSION_COLUMNS)}`
            : await tx<SessionRow[]>`
            SELECT ${tx.unsafe(SESSION_COLUMNS)} FROM sessions WHERE id = ${id}`;
          return updated;
        }));
      if (!row) throw new SessionNotFoundError(id);
      return this.#recordOf(row);
    }));
  }

  /**
   * Removes the session's auth files and row in one transaction, and moves its lease on (no
   * holder, a higher epoch), so that its former owner's writes are refused from then on; its
   * stored messages and idempotency records go in the same transaction.
   */
  remove(id: SessionId): Promise<void> {
    this.#assertUsable();
    const checked = this.#checkId(id);
    return this.#track(
      this.#retry("remove", () =>
        transaction(this.#sql, async (tx) => {
          await tx`DELETE FROM auth_files WHERE session_id = ${checked}`;
          await tx`DELETE FROM sessions WHERE id = ${checked}`;
          await tx`
        UPDATE leases SET holder = NULL, epoch = epoch + 1, expires_at = now()
        WHERE session_id = ${checked}`;
          // After the lease, which every message write locks first: no deadlock with one.
          await tx`DELETE FROM messages WHERE session_id = ${checked}`;
          await tx`DELETE FROM idempotency_records WHERE session_id = ${checked}`;
          await tx`DELETE FROM message_sessions WHERE session_id = ${checked}`;
        })).then(() => {}),
    );
  }

  auth(fence: Fence): AuthFiles {
    const sessionId = this.#checkId(fence?.sessionId);
    return new PostgresAuthFiles({
      sql: this.#sql,
      fence: { sessionId, epoch: fence.epoch },
      node: this.#nodeId,
      codec: this.#codec,
      writes: this.#authWrites,
      assertUsable: () => this.#assertUsable(),
      track: (write) => this.#track(write),
      retry: (what, attempt) => this.#retry(what, attempt),
    });
  }

  async listAuth(): Promise<SessionId[]> {
    this.#assertUsable();
    const rows = await this.#sql<{ session_id: string }[]>`
      SELECT DISTINCT session_id FROM auth_files ORDER BY session_id`;
    return rows.map((row) => row.session_id).filter(isSessionId);
  }

  /** Every write resolves once committed; this waits for those still in flight. */
  async flush(): Promise<void> {
    this.#assertUsable();
    await Promise.allSettled([...this.#inFlight]);
  }

  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    await Promise.allSettled([...this.#inFlight]);
  }

  async #row(id: SessionId): Promise<SessionRow | undefined> {
    const [row] = await this.#sql<SessionRow[]>`
      SELECT ${this.#sql.unsafe(SESSION_COLUMNS)} FROM sessions WHERE id = ${id}`;
    return row;
  }

  /** The record of a row; `PersistenceError` naming the row and the problem when it is invalid. */
  #recordOf(row: SessionRow): SessionRecord {
    const checked = recordFromRow(row, this.#sealer);
    if ("reason" in checked) {
      throw new PersistenceError(`Session row '${row.id}' is invalid: ${checked.reason}`);
    }
    return checked.record;
  }

  #valid(record: SessionRecord): SessionRecord {
    const parsed = SessionRecordSchema.safeParse(record);
    if (!parsed.success) {
      throw new ValidationError(`Session record '${record.id}' is invalid`, parsed.error.issues);
    }
    return parsed.data;
  }

  /** Repeats a write while the database is restarting or a connection broke (see there). */
  #retry<T>(what: string, attempt: (attempt: number) => Promise<T>): Promise<T> {
    return retryTransient(attempt, { logger: this.#logger, what, sql: this.#sql });
  }

  #track<T>(write: Promise<T>): Promise<T> {
    this.#inFlight.add(write);
    write.then(() => this.#inFlight.delete(write), () => this.#inFlight.delete(write));
    return write;
  }

  #checkId(id: unknown): SessionId {
    if (!isSessionId(id)) throw new InvalidSessionIdError(String(id));
    return id;
  }

  #assertUsable(): void {
    if (this.#state === "open") return;
    throw new PersistenceError(
      this.#state === "closed" ? "The session store is closed" : "The session store is not open",
    );
  }
}
