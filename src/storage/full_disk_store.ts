import type { Fence } from "../domain/fence.ts";
import { ForwardingSessionStore, type StoreWriteKind } from "../domain/forwarding_session_store.ts";
import type { SessionId } from "../domain/session_id.ts";
import type { AuthFiles, SessionStore } from "../domain/session_store.ts";
import type { StorageHealth, StorageProblem } from "../domain/storage_health.ts";
import type { Logger } from "../logger.ts";
import { isNoSpaceError, noSpaceError } from "./no_space.ts";
import { StorageMonitor, type StorageMonitorOptions } from "./storage_monitor.ts";

/** Options of {@linkcode FullDiskStore}. */
export interface FullDiskStoreOptions {
  logger: Logger;
  /** Writes and syncs a little data where the store writes; rejects while the disk is full. */
  probe: () => Promise<void>;
  retry?: StorageMonitorOptions["retry"];
  onChange?: StorageMonitorOptions["onChange"];
  clock?: () => Date;
}

/**
 * A `SessionStore` that survives a full disk: a write that fails for lack of space rejects with
 * `InsufficientStorageError` (HTTP 507) and starts a "disk full" episode (see `StorageMonitor`).
 * Auth file changes that failed are not dropped: they stay in memory (reads see them, later
 * writes of the same session carry them, newer values winning) and are written once space is
 * back, so a full disk never loses credentials or turns into a logout. Metadata kept in the
 * inner store's memory goes out with its next write, or the catch-up's flush.
 *
 * @example
 * ```ts
 * const store = new FullDiskStore(new FileSessionStore({ dataDir, logger }), {
 *   logger, probe: () => probeFreeSpace(dataDir),
 * });
 * ```
 */
export class FullDiskStore extends ForwardingSessionStore implements StorageHealth {
  readonly #logger: Logger;
  readonly #monitor: StorageMonitor;
  /** Every session's (and fence's) auth files handed out, to retry and count what waits. */
  readonly #retaining: { sessionId: SessionId; files: RetainingAuthFiles }[] = [];

  constructor(inner: SessionStore, options: FullDiskStoreOptions) {
    super(inner);
    this.#logger = options.logger;
    this.#monitor = new StorageMonitor({
      logger: options.logger,
      probe: options.probe,
      catchUp: () => this.#catchUp(),
      retry: options.retry,
      onChange: options.onChange,
      clock: options.clock,
    });
  }

  get problem(): StorageProblem | null {
    return this.#monitor.problem;
  }

  unwrittenAuthFiles(id: SessionId): number {
    let count = 0;
    for (const { sessionId, files } of this.#retaining) {
      if (sessionId === id) count += files.unwritten;
    }
    return count;
  }

  /** Removes the session; what its auth files kept in memory goes too, never to be written. */
  override remove(id: SessionId): Promise<void> {
    for (const { sessionId, files } of this.#retaining) if (sessionId === id) files.forget();
    return super.remove(id);
  }

  override flush(): Promise<void> {
    return this.around("metadata", "Flushing the store", () => this.inner.flush());
  }

  override async close(): Promise<void> {
    this.#monitor.close();
    for (const { sessionId, files } of this.#retaining) {
      if (files.unwritten === 0) continue;
      await files.retry().catch(() => {});
      if (files.unwritten > 0) {
        this.#logger.error(
          { sessionId, files: files.unwritten },
          "auth changes could not be written before closing (disk full); the session may need " +
            "a new QR scan",
        );
      }
    }
    await this.inner.close();
  }

  /** Auth files that keep what could not be written (per fence: never written under another). */
  protected override wrapAuth(files: AuthFiles, fence: Fence): AuthFiles {
    const retaining = new RetainingAuthFiles(
      files,
      (what, write) => this.around("auth", what, write),
    );
    this.#retaining.push({ sessionId: fence.sessionId, files: retaining });
    return retaining;
  }

  /** Runs a write; no space turns into `InsufficientStorageError` and the monitor hears of it. */
  protected async around<T>(
    _kind: StoreWriteKind,
    what: string,
    write: () => Promise<T>,
  ): Promise<T> {
    let result: T;
    try {
      result = await write();
    } catch (error) {
      if (!isNoSpaceError(error)) throw error;
      this.#monitor.reportNoSpace(error);
      throw noSpaceError(error, what);
    }
    this.#monitor.reportWriteSucceeded();
    return result;
  }

  /** Once space is back: the kept auth changes first, then metadata held in memory. */
  async #catchUp(): Promise<void> {
    for (const { files } of this.#retaining) await files.retry();
    await this.inner.flush();
  }
}

/**
 * One session's auth files, keeping the changes whose write failed for lack of space. Writes of
 * one session run one at a time (Baileys' writes reach here batched already, one at a time).
 */
class RetainingAuthFiles implements AuthFiles {
  readonly #inner: AuthFiles;
  readonly #guard: (what: string, write: () => Promise<void>) => Promise<void>;
  /** Changes whose write failed for lack of space, newest value per file. */
  #kept = new Map<string, Uint8Array | null>();
  /** Batches waiting behind the write in flight, oldest first (not handed to the store yet). */
  readonly #waiting: Map<string, Uint8Array | null>[] = [];
  /** Whether the last write failed for lack of space (so `#kept` waits for space). */
  #failed = false;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    inner: AuthFiles,
    guard: (what: string, write: () => Promise<void>) => Promise<void>,
  ) {
    this.#inner = inner;
    this.#guard = guard;
  }

  /** Auth file changes whose write failed for lack of space and waits for space. */
  get unwritten(): number {
    return this.#failed ? this.#kept.size : 0;
  }

  async exists(): Promise<boolean> {
    for (const changes of this.#unwrittenNewestFirst()) {
      if ([...changes.values()].some((data) => data !== null)) return true;
    }
    return await this.#inner.exists();
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    for (const changes of this.#unwrittenNewestFirst()) {
      if (changes.has(name)) return changes.get(name)?.slice() ?? undefined;
    }
    return await this.#inner.read(name);
  }

  async list(): Promise<string[]> {
    const names = new Set(await this.#inner.list());
    for (const changes of [this.#kept, ...this.#waiting]) {
      for (const [name, data] of changes) {
        if (data === null) names.delete(name);
        else names.add(name);
      }
    }
    return [...names].sort();
  }

  write(changes: ReadonlyMap<string, Uint8Array | null>): Promise<void> {
    // Visible to reads at once, not only once the queue gets to it.
    const copy = new Map<string, Uint8Array | null>();
    for (const [name, data] of changes) copy.set(name, data === null ? null : data.slice());
    this.#waiting.push(copy);
    return this.#enqueue(() => {
      this.#waiting.splice(this.#waiting.indexOf(copy), 1);
      return this.#writeWith(copy);
    });
  }

  delete(): Promise<void> {
    return this.#enqueue(async () => {
      this.#kept = new Map();
      this.#failed = false;
      await this.#guard("Deleting the session's auth files", () => this.#inner.delete());
    });
  }

  /** Drops the kept changes (the session was removed). */
  forget(): void {
    this.#kept = new Map();
    this.#failed = false;
  }

  /** Writes the kept changes, if any; rejects while that still fails. */
  retry(): Promise<void> {
    return this.#enqueue(() =>
      this.#kept.size > 0 ? this.#writeWith(new Map()) : Promise.resolve()
    );
  }

  /** Writes `changes` with every kept change under them; keeps all of it if that fails. */
  async #writeWith(changes: Map<string, Uint8Array | null>): Promise<void> {
    const batch = new Map(this.#kept);
    for (const [name, data] of changes) {
      batch.delete(name);
      batch.set(name, data);
    }
    // Kept until written: reads see it, and a failure leaves it here for the next attempt.
    this.#kept = batch;
    try {
      await this.#guard("Writing the session's auth files", () => this.#inner.write(batch));
    } catch (error) {
      if (isNoSpaceError(error)) {
        this.#failed = true;
      } else {
        this.#kept = new Map();
        this.#failed = false;
      }
      throw error;
    }
    this.#kept = new Map();
    this.#failed = false;
  }

  #unwrittenNewestFirst(): Map<string, Uint8Array | null>[] {
    return [...this.#waiting].reverse().concat([this.#kept]);
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => {});
    return run;
  }
}
