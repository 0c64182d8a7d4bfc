import type { Fence } from "./fence.ts";
import type { SessionRecord } from "./session.ts";
import type { SessionId } from "./session_id.ts";

/**
 * What operators set on a session (through any node): its label, webhooks and desired state.
 * Changed with `SessionStore.updateSpec`, a compare-and-swap that never loses a concurrent change.
 */
export type SessionSpec = Pick<SessionRecord, "name" | "webhooks" | "desiredState">;

/** The spec fields a change sets (the others are kept), with the time of the change. */
export type SessionSpecChange = Partial<SessionSpec> & { updatedAt?: string };

/** What a session's owner reports about its connection: only the owner writes these. */
export type SessionReport = Pick<
  SessionRecord,
  "status" | "phoneNumber" | "pushName" | "connectedAt" | "lastDisconnectedAt" | "lastDisconnect"
>;

/** The report fields one report sets (the others are kept), with the time of the report. */
export type SessionReportChange = Partial<SessionReport> & { updatedAt?: string };

/** The names of the fields a `SessionSpec` holds, for implementations that split a record. */
export const SESSION_SPEC_FIELDS = ["name", "webhooks", "desiredState"] as const;

/** The names of the fields a `SessionReport` holds. */
export const SESSION_REPORT_FIELDS = [
  "status",
  "phoneNumber",
  "pushName",
  "connectedAt",
  "lastDisconnectedAt",
  "lastDisconnect",
] as const;

/**
 * The persistence seam. Everything the gateway keeps across restarts goes through this interface:
 * session records, and each session's WhatsApp auth files (named as in Baileys'
 * `useMultiFileAuthState` layout: `creds.json`, `pre-key-1.json`, …).
 *
 * A record has two halves with two writers: the spec (`SessionSpec`), which operators change
 * through any node, and the report (`SessionReport`), which only the session's owner writes. So
 * neither erases the other, and a node that lost a session (its lease taken over) cannot write it
 * any more: every write of the owner (`report`, `auth(fence).write`/`delete`) carries its
 * `Fence`, and a store shared by several nodes refuses a stale one with `FencedOutError`, writing
 * nothing.
 *
 * Implementations: `src/persistence/file_session_store.ts` (one process, behind the data
 * directory's lock, so it owns every session and accepts every fence) and
 * `src/persistence/postgres/` (several nodes on one database). Contract, for every implementation
 * (tested once for all in `tests/support/session_store_contract.ts`):
 * - every method that resolves has made its change durable;
 * - concurrent calls never lose each other's updates: spec changes are compare-and-swaps, and one
 *   session's reports apply in the order they were made;
 * - corrupted data is reported in the `StoreLoadReport`, never silently dropped;
 * - ids are validated (`InvalidSessionIdError`) before anything is read or written;
 * - one owner per session: only the holder of a session's current lease writes its report and its
 *   auth files (a single-process store is the owner of every session).
 */
export interface SessionStore {
  /** Prepares the storage (creating it if absent) and loads and checks every session. */
  open(): Promise<StoreLoadReport>;

  /** Adds a new session; `SessionAlreadyExistsError` if the id exists. Durable on resolve. */
  create(record: SessionRecord): Promise<void>;

  /** One session's record; `undefined` when there is none. */
  get(id: SessionId): Promise<SessionRecord | undefined>;

  /** Every session's record, in no particular order. */
  list(): Promise<SessionRecord[]>;

  /**
   * Changes a session's spec: `change` gets the current record and returns the fields to set. It
   * may be called again with a newer record when another writer got there first (so it must be
   * pure), and may throw to abandon the change. Resolves with the new record once it is durable;
   * `SessionNotFoundError` for an unknown id.
   */
  updateSpec(
    id: SessionId,
    change: (current: SessionRecord) => SessionSpecChange,
  ): Promise<SessionRecord>;

  /**
   * Writes what the session's owner reports, under its fence (`FencedOutError` when it is stale,
   * nothing written). Reports of one session apply in call order. Resolves with the new record
   * once it is durable; `SessionNotFoundError` for an unknown id.
   */
  report(fence: Fence, fields: SessionReportChange): Promise<SessionRecord>;

  /**
   * Removes a session: its auth files first, then its record and everything else kept for it.
   * Resolves once that is durable. Unknown ids are a no-op.
   */
  remove(id: SessionId): Promise<void>;

  /**
   * The auth files of one session, written under `fence` (reads are not fenced). The store does
   * not interpret their contents.
   */
  auth(fence: Fence): AuthFiles;

  /** Ids of every session that has stored auth files. */
  listAuth(): Promise<SessionId[]>;

  /** Waits until every write accepted so far is durable. */
  flush(): Promise<void>;

  /** Flushes and releases the store (its lock, its connections). It cannot be used afterwards. */
  close(): Promise<void>;
}

/**
 * One session's auth files: an opaque name → bytes map. Names are single path components
 * (`creds.json`, `pre-key-12.json`); the store rejects anything else. Writes carry the fence the
 * files were obtained with, and throw `FencedOutError` (nothing written) once it is stale.
 */
export interface AuthFiles {
  /** Whether any auth data exists for the session. */
  exists(): Promise<boolean>;

  /** Reads one file; `undefined` when it does not exist. */
  read(name: string): Promise<Uint8Array | undefined>;

  /**
   * Writes a batch: each entry is replaced atomically (bytes) or deleted (`null`). Resolves once
   * every entry is durable. Entries of one batch may become visible in any order.
   */
  write(changes: ReadonlyMap<string, Uint8Array | null>): Promise<void>;

  /** Names of every stored file. */
  list(): Promise<string[]>;

  /**
   * Deletes every auth file of the session. Waits for this session's pending writes first and
   * tolerates files still being added while it runs.
   */
  delete(): Promise<void>;
}

/** What `SessionStore.open` found. */
export interface StoreLoadReport {
  /** Every valid session, in no particular order. */
  sessions: SessionRecord[];
  /** Entries that failed validation and were set aside, with the reason. */
  quarantined: QuarantinedEntry[];
  /** Set when the metadata as a whole was unreadable and moved aside. */
  corruptMetadata: { movedTo: string; reason: string } | null;
  /** Sessions re-created from auth folders because their metadata was lost. */
  rebuiltFromAuth: SessionId[];
}

/** A metadata entry that could not be loaded. */
export interface QuarantinedEntry {
  key: string;
  reason: string;
}
