import { ForwardingSessionStore, type StoreWriteKind } from "../domain/forwarding_session_store.ts";
import type { SessionStore } from "../domain/session_store.ts";

/** Which kind of data a store write persisted. */
export type PersistenceWriteKind = StoreWriteKind;

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
export class TimedSessionStore extends ForwardingSessionStore {
  readonly #onWrite: WriteObserver;

  constructor(inner: SessionStore, onWrite: WriteObserver) {
    super(inner);
    this.#onWrite = onWrite;
  }

  protected async around<T>(
    kind: PersistenceWriteKind,
    _what: string,
    write: () => Promise<T>,
  ): Promise<T> {
    const start = performance.now();
    try {
      return await write();
    } finally {
      this.#onWrite(performance.now() - start, kind);
    }
  }
}
