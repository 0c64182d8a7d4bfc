import type { SessionRecord } from "./session.ts";
import type { SessionId } from "./session_id.ts";

/**
 * The persistence seam. Everything the gateway keeps across restarts goes through this interface:
 * session metadata, and each session's WhatsApp auth files (named as in Baileys'
 * `useMultiFileAuthState` layout: `creds.json`, `pre-key-1.json`, …).
 *
 * The file implementation lives in `src/persistence/file_session_store.ts`. A distributed store
 * (e.g. Postgres: one table of records, one of `(session_id, file_name, bytes)`) implements the
 * same contract:
 * - every method that resolves has made its change durable;
 * - concurrent calls never lose each other's updates;
 * - corrupted data is reported in the `StoreLoadReport`, never silently dropped;
 * - only one gateway process uses a store at a time (`open` fails with
 *   `DataDirectoryLockedError` otherwise).
 */
export interface SessionStore {
  /** Prepares the storage (creating it if absent), takes the exclusive lock and loads every session. */
  open(): Promise<StoreLoadReport>;

  /** Inserts or replaces one session's metadata; resolves once it is durable. */
  save(record: SessionRecord): Promise<void>;

  /** Removes one session's metadata; resolves once it is durable. Unknown ids are a no-op. */
  remove(id: SessionId): Promise<void>;

  /** The auth files of one session. The store does not interpret their contents. */
  auth(id: SessionId): AuthFiles;

  /** Ids of every session that has stored auth files. */
  listAuth(): Promise<SessionId[]>;

  /** Waits until every write accepted so far is durable. */
  flush(): Promise<void>;

  /** Flushes and releases the store (and its lock). The store cannot be used afterwards. */
  close(): Promise<void>;
}

/**
 * One session's auth files: an opaque name → bytes map. Names are single path components
 * (`creds.json`, `pre-key-12.json`); the store rejects anything else.
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
