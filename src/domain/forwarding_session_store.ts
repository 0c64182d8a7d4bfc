import type { Fence } from "./fence.ts";
import type { SessionRecord } from "./session.ts";
import type { SessionId } from "./session_id.ts";
import type {
  AuthFiles,
  SessionReportChange,
  SessionSpecChange,
  SessionStore,
  StoreLoadReport,
} from "./session_store.ts";

/** Which kind of data a store write persists. */
export type StoreWriteKind = "metadata" | "auth";

/**
 * The base of a `SessionStore` decorator: every method goes to the inner store, and every write
 * (`create`, `updateSpec`, `report`, `remove`, and auth `write`/`delete`) through `around`, which
 * a subclass implements (to time it, to catch a full disk…). Auth files are handed out once per
 * session and fence, as the stores do.
 *
 * @example
 * ```ts
 * class LoggedStore extends ForwardingSessionStore {
 *   protected around<T>(kind: StoreWriteKind, what: string, write: () => Promise<T>) {
 *     console.log(what);
 *     return write();
 *   }
 * }
 * ```
 */
export abstract class ForwardingSessionStore implements SessionStore {
  protected readonly inner: SessionStore;
  readonly #auth = new Map<string, AuthFiles>();

  constructor(inner: SessionStore) {
    this.inner = inner;
  }

  /** Runs one write of the inner store; `what` names it for messages ("Creating the session"). */
  protected abstract around<T>(
    kind: StoreWriteKind,
    what: string,
    write: () => Promise<T>,
  ): Promise<T>;

  /** The auth files handed out for `fence`: the inner ones with their writes `around`. */
  protected wrapAuth(files: AuthFiles, _fence: Fence): AuthFiles {
    return {
      exists: () => files.exists(),
      read: (name) => files.read(name),
      list: () => files.list(),
      write: (changes) =>
        this.around("auth", "Writing the session's auth files", () => files.write(changes)),
      delete: () => this.around("auth", "Deleting the session's auth files", () => files.delete()),
    };
  }

  open(): Promise<StoreLoadReport> {
    return this.inner.open();
  }

  create(record: SessionRecord): Promise<void> {
    return this.around("metadata", "Creating the session", () => this.inner.create(record));
  }

  get(id: SessionId): Promise<SessionRecord | undefined> {
    return this.inner.get(id);
  }

  list(): Promise<SessionRecord[]> {
    return this.inner.list();
  }

  updateSpec(
    id: SessionId,
    change: (current: SessionRecord) => SessionSpecChange,
  ): Promise<SessionRecord> {
    return this.around("metadata", "Saving the session", () => this.inner.updateSpec(id, change));
  }

  report(fence: Fence, fields: SessionReportChange): Promise<SessionRecord> {
    return this.around(
      "metadata",
      "Saving the session's status",
      () => this.inner.report(fence, fields),
    );
  }

  remove(id: SessionId): Promise<void> {
    return this.around("metadata", "Removing the session", () => this.inner.remove(id));
  }

  auth(fence: Fence): AuthFiles {
    const key = `${fence.sessionId} ${fence.epoch}`;
    let files = this.#auth.get(key);
    if (!files) {
      files = this.wrapAuth(this.inner.auth(fence), fence);
      this.#auth.set(key, files);
    }
    return files;
  }

  listAuth(): Promise<SessionId[]> {
    return this.inner.listAuth();
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
