/**
 * A full disk where none can be mounted: the real `FileSessionStore` underneath, with every
 * write failing as the OS fails it on a full disk (`ENOSPC`) while `full` is set.
 */
import type { SessionRecord } from "../../src/domain/session.ts";
import type { SessionId } from "../../src/domain/session_id.ts";
import type { Fence } from "../../src/domain/fence.ts";
import type {
  AuthFiles,
  SessionReportChange,
  SessionSpecChange,
  SessionStore,
  StoreLoadReport,
} from "../../src/domain/session_store.ts";

/** The error Deno raises for a write to a full disk. */
export function enospc(): Error {
  return Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" });
}

/** Wraps a real store; its writes fail with `ENOSPC` while `full` is true. */
export class NoSpaceInjector implements SessionStore {
  full = false;
  readonly #inner: SessionStore;

  constructor(inner: SessionStore) {
    this.#inner = inner;
  }

  /** The probe a full-disk store uses: fails like the writes do. */
  readonly probe = (): Promise<void> => this.#write(() => Promise.resolve(undefined));

  open(): Promise<StoreLoadReport> {
    return this.#inner.open();
  }
  create(record: SessionRecord): Promise<void> {
    return this.#write(() => this.#inner.create(record));
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
    return this.#write(() => this.#inner.updateSpec(id, change));
  }
  report(fence: Fence, fields: SessionReportChange): Promise<SessionRecord> {
    return this.#write(() => this.#inner.report(fence, fields));
  }
  remove(id: SessionId): Promise<void> {
    return this.#write(() => this.#inner.remove(id));
  }
  auth(fence: Fence): AuthFiles {
    const files = this.#inner.auth(fence);
    return {
      exists: () => files.exists(),
      read: (name) => files.read(name),
      list: () => files.list(),
      write: (changes) => this.#write(() => files.write(changes)),
      delete: () => this.#write(() => files.delete()),
    };
  }
  listAuth(): Promise<SessionId[]> {
    return this.#inner.listAuth();
  }
  flush(): Promise<void> {
    return this.#write(() => this.#inner.flush());
  }
  close(): Promise<void> {
    return this.#inner.close();
  }

  #write<T>(write: () => Promise<T>): Promise<T> {
    return this.full ? Promise.reject(enospc()) : write();
  }
}
