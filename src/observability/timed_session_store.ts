import type { SessionRecord } from "../domain/session.ts";
import type { SessionId } from "../domain/session_id.ts";
import type { Fence } from "../domain/fence.ts";
import type {
  AuthFiles,
  SessionReportChange,
  SessionSpecChange,
  SessionStore,
  StoreLoadReport,
} from "../domain/session_store.ts";

/** Which kind of data a store write persisted. */
export type PersistenceWriteKind = "metadata" | "auth";

/** Called after every write, successful or not, with how long it took to settle. */
export type WriteObserver = (durationMs: number, kind: PersistenceWriteKind) => void;

/**
 * A `SessionStore` that times the writes of another: `create`, `updateSpec`, `report` and
 * `remove` as `metadata`, auth
 * `write` and `delete` as `auth`, each from the call to its promise settling (queueing for a
 * group commit included: that is the latency callers see). Everything else passes through.
 *
 * @example
 * ```ts
 * const store = new TimedSessionStore(new FileSessionStore({ dataDir, logger }), (ms, kind) =>
 *   metrics.persistenceWriteSeconds.observe({ kind }, ms / 1000)
 * );
 * ```
 */
export class TimedSessionStore implements SessionStore {
  readonly #inner: SessionStore;
  readonly #onWrite: WriteObserver;
  readonly #auth = new Map<string, AuthFiles>();

  constructor(inner: SessionStore, onWrite: WriteObserver) {
    this.#inner = inner;
    this.#onWrite = onWrite;
  }

  open(): Promise<StoreLoadReport> {
    return this.#inner.open();
  }

  create(record: SessionRecord): Promise<void> {
    return this.#timed("metadata", () => this.#inner.create(record));
  }

  get(id: SessionId): Promise<SessionRecord | undefined> {
    return this.#inner.get(id);
  }

  list(): Promise<SessionRecord[]> {
    return this.#inner.list();
  }

  updateSpec(
    id: SessionId,
    change: (current: SessionRecord) => SessionSpecChange,
  ): Promise<SessionRecord> {
    return this.#timed("metadata", () => this.#inner.updateSpec(id, change));
  }

  report(fence: Fence, fields: SessionReportChange): Promise<SessionRecord> {
    return this.#timed("metadata", () => this.#inner.report(fence, fields));
  }

  remove(id: SessionId): Promise<void> {
    return this.#timed("metadata", () => this.#inner.remove(id));
  }

  /** One timed `AuthFiles` per session and fence, like the stores hand out. */
  auth(fence: Fence): AuthFiles {
    const key = `${fence.sessionId} ${fence.epoch}`;
    let timed = this.#auth.get(key);
    if (!timed) {
      const files = this.#inner.auth(fence);
      timed = {
        exists: () => files.exists(),
        read: (name) => files.read(name),
        list: () => files.list(),
        write: (changes) => this.#timed("auth", () => files.write(changes)),
        delete: () => this.#timed("auth", () => files.delete()),
      };
      this.#auth.set(key, timed);
    }
    return timed;
  }

  listAuth(): Promise<SessionId[]> {
    return this.#inner.listAuth();
  }

  flush(): Promise<void> {
    return this.#inner.flush();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  async #timed<T>(kind: PersistenceWriteKind, write: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await write();
    } finally {
      this.#onWrite(performance.now() - start, kind);
    }
  }
}
