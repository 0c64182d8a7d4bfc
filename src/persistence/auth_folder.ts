import { join } from "node:path";
import { PersistenceError } from "../domain/errors.ts";
import type { SessionId } from "../domain/session_id.ts";
import type { AuthFiles } from "../domain/session_store.ts";
import { KeyedLock } from "../lib/keyed_lock.ts";
import type { Logger } from "../logger.ts";
import { syncDirectory, syncFiles, writeFilesAtomic } from "./atomic_write.ts";
import type { AuthFileCodec } from "./auth_file_codec.ts";
import { assertAuthFileName, authFileNameProblem } from "./auth_file_name.ts";
import { AuthJournal } from "./auth_journal.ts";
import { encodeJournalRecord } from "./auth_journal_record.ts";
import { TRASH_PREFIX } from "./data_dir_layout.ts";
import { GroupCommit } from "./group_commit.ts";
import { lstatIfPresent, readRegularFile } from "./read_regular_file.ts";

/** What an {@linkcode AuthFolder} needs from its store. */
export interface AuthFolderOptions {
  dataDir: string;
  sessionId: SessionId;
  codec: AuthFileCodec;
  logger: Logger;
  /** How many files are written or synced at once. */
  writeConcurrency: number;
  /** Journal size (bytes) past which a checkpoint starts. */
  checkpointBytes: number;
  /** How long the folder must see no write before a checkpoint runs, in milliseconds. */
  idleCheckpointMs: number;
  /** Throws when the store may not be used (not open yet, or closed). */
  assertUsable: () => void;
}

/** Changes waiting for, or being written by, one commit. */
interface Batch {
  /** Remove the whole folder before applying `changes`. */
  deleteFirst: boolean;
  changes: Map<string, Uint8Array | null>;
}

const emptyBatch = (): Batch => ({ deleteFirst: false, changes: new Map() });

/** The one key of `#files`: a lock over the folder's files. */
const FILES = "files";

/**
 * One session's auth files in `<dataDir>/<sessionId>/`, kept durable by a write-ahead journal
 * (`.journal`, see `data_dir_layout.ts`).
 *
 * - **Commit** (the `#writer` queue): the batches that arrive while one is being committed are
 *   merged (later values win) into one journal record, appended and synced once; then the
 *   writers' promises resolve.
 * - **Apply** (the `#files` lock, in the background): journaled changes replace the files
 *   atomically (temporary file and rename) but unsynced; a file changed by several records
 *   meanwhile is written once, with its newest content.
 * - **Checkpoint** (journal past `checkpointBytes`, idle for `idleCheckpointMs`, `settled()`,
 *   `close()`): applies what is left, syncs every file replaced since the last checkpoint and
 *   the folder, then deletes the journal. Most of it runs before commits are held up; only the
 *   tail that arrived meanwhile is synced while the journal is locked.
 * - **Delete** renames the folder away, journal included, so deleted files never come back.
 *
 * Reads see writes that are accepted but not yet journaled or applied. A symlink at the
 * folder's path is never followed. The store replays a journal left by a crash when it opens,
 * before any folder is read (`replayAuthJournal`). Locks are always taken in the order
 * `#writer`, then `#files`.
 *
 * Obtained from `FileSessionStore.auth(id)`, which hands out one instance per session.
 */
export class AuthFolder implements AuthFiles {
  readonly #dataDir: string;
  readonly #dir: string;
  readonly #id: SessionId;
  readonly #codec: AuthFileCodec;
  readonly #logger: Logger;
  readonly #concurrency: number;
  readonly #checkpointBytes: number;
  readonly #idleMs: number;
  readonly #assertUsable: () => void;
  readonly #journal: AuthJournal;
  readonly #writer = new GroupCommit(() => this.#commit());
  readonly #files = new KeyedLock();
  #queued: Batch = emptyBatch();
  #inFlight: Batch | null = null;
  /** Journaled changes, as stored (after the codec), not yet applied to the files. */
  #unapplied = new Map<string, Uint8Array | null>();
  /** Journaled changes being applied right now. */
  #applying: Map<string, Uint8Array | null> | null = null;
  /** Files replaced since the last checkpoint, whose content is not synced yet. */
  readonly #unsynced = new Set<string>();
  /** Whether entries were renamed or removed since the folder was last synced. */
  #folderUnsynced = false;
  /** The inode of the folder the open journal lives in, to notice the folder being replaced. */
  #journalFolder: number | null = null;
  #applyQueued = false;
  /** Those waiting for the next commit to end a checkpoint, and to hear how it went. */
  #checkpointWaiters: PromiseWithResolvers<void>[] = [];
  #sizeCheckpoint: Promise<void> | null = null;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(options: AuthFolderOptions) {
    this.#dataDir = options.dataDir;
    this.#id = options.sessionId;
    this.#dir = join(options.dataDir, options.sessionId);
    this.#codec = options.codec;
    this.#logger = options.logger;
    this.#concurrency = options.writeConcurrency;
    this.#checkpointBytes = options.checkpointBytes;
    this.#idleMs = options.idleCheckpointMs;
    this.#assertUsable = options.assertUsable;
    this.#journal = new AuthJournal(this.#dir);
  }

  /** Whether the folder holds at least one auth file, once the writes accepted so far are done. */
  async exists(): Promise<boolean> {
    this.#assertUsable();
    await this.#writer.settled();
    return await this.#files.run(FILES, async () => {
      let deleted = 0;
      for (const data of this.#unapplied.values()) {
        if (data !== null) return true;
        deleted++;
      }
      // One more name than there are pending deletions: at least one of them is not deleted.
      const names = await this.#names(deleted + 1);
      return names.some((name) => !this.#unapplied.has(name));
    });
  }

  /** Reads one file; `undefined` when it does not exist (or is not a regular file). */
  async read(name: string): Promise<Uint8Array | undefined> {
    assertAuthFileName(name);
    this.#assertUsable();
    for (const batch of [this.#queued, this.#inFlight]) {
      if (!batch) continue;
      if (batch.changes.has(name)) {
        const data = batch.changes.get(name)!;
        return data === null ? undefined : data.slice();
      }
      if (batch.deleteFirst) return undefined;
    }
    for (const changes of [this.#unapplied, this.#applying]) {
      if (!changes?.has(name)) continue;
      const stored = changes.get(name)!;
      return stored === null
        ? undefined
        : (await this.#codec.decode(stored, { sessionId: this.#id, name })).slice();
    }
    // Blocking calls: a login reads a few small files, each costing several thread-pool round
    // trips otherwise, and a restore of 1,000 sessions spent a second of the main thread on them.
    if (this.#folderKind() !== "directory") return undefined;
    const result = await readRegularFile(join(this.#dir, name), { blocking: true });
    if (result.kind === "missing") return undefined;
    if (result.kind === "not_regular") {
      this.#logger.warn({ sessionId: this.#id, file: name }, "auth entry is not a regular file");
      return undefined;
    }
    return await this.#codec.decode(result.data, { sessionId: this.#id, name });
  }

  /** Queues a batch (bytes replace, `null` deletes) and resolves once it is durable. */
  async write(changes: ReadonlyMap<string, Uint8Array | null>): Promise<void> {
    for (const name of changes.keys()) assertAuthFileName(name);
    this.#assertUsable();
    for (const [name, data] of changes) {
      // A copy: the caller may reuse its buffer before the commit reads it.
      this.#queued.changes.set(name, data === null ? null : data.slice());
    }
    await this.#writer.request();
  }

  /** Names of the stored files, once the writes accepted so far are done. */
  async list(): Promise<string[]> {
    this.#assertUsable();
    await this.#writer.settled();
    return await this.#files.run(FILES, async () => {
      const names = new Set(await this.#names(Infinity));
      for (const [name, data] of this.#unapplied) {
        if (data === null) names.delete(name);
        else names.add(name);
      }
      return [...names].sort();
    });
  }

  /**
   * Deletes the folder after the write in flight; writes queued before this call are dropped
   * (they would be deleted anyway) and resolve with it, writes queued after it start a new folder.
   */
  async delete(): Promise<void> {
    this.#assertUsable();
    this.#queued = { deleteFirst: true, changes: new Map() };
    await this.#writer.request();
  }

  /**
   * Resolves once every write accepted so far has finished, successfully or not, and has been
   * checkpointed: the folder's plain files hold it durably and the journal is gone. A failed
   * checkpoint is logged; the journal keeps the writes durable all the same.
   */
  async settled(): Promise<void> {
    await this.#writer.settled();
    try {
      await this.#checkpoint();
    } catch (error) {
      this.#logger.warn(
        { sessionId: this.#id, err: error },
        "auth checkpoint failed; the journal keeps the writes",
      );
    }
  }

  /** Checkpoints and stops the idle timer, for the store's `close()`. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#clearIdleTimer();
    await this.settled();
  }

  /**
   * One commit of the `#writer` queue: a deletion, a journal record, a checkpoint's end. A
   * failed checkpoint is reported to those who asked for it, never to the batch's writers.
   */
  async #commit(): Promise<void> {
    const batch = this.#queued;
    this.#queued = emptyBatch();
    const checkpointWaiters = this.#checkpointWaiters;
    this.#checkpointWaiters = [];
    this.#inFlight = batch;
    try {
      if (batch.deleteFirst) await this.#files.run(FILES, () => this.#removeFolder());
      if (batch.changes.size > 0) await this.#journalBatch(batch.changes);
    } finally {
      this.#inFlight = null;
      if (checkpointWaiters.length > 0) {
        try {
          await this.#files.run(FILES, () => this.#finishCheckpoint());
          for (const waiter of checkpointWaiters) waiter.resolve();
        } catch (error) {
          for (const waiter of checkpointWaiters) waiter.reject(error);
        }
      }
    }
  }

  async #journalBatch(changes: Map<string, Uint8Array | null>): Promise<void> {
    let info = await this.#lstatFolder();
    if (info && !info.isDirectory) {
      this.#logger.warn({ sessionId: this.#id }, "auth folder path is not a directory; ignored");
      throw new PersistenceError(
        `Auth folder of session '${this.#id}' is not a directory (a symlink?); refusing to write`,
      );
    }
    const encoded = new Map<string, Uint8Array | null>();
    for (const [name, data] of changes) {
      encoded.set(
        name,
        data === null ? null : await this.#codec.encode(data, { sessionId: this.#id, name }),
      );
    }
    if (this.#journal.exists && info?.ino !== this.#journalFolder) {
      // Removed or replaced behind the store's back: appending would go to a journal that no
      // longer is at the folder's path.
      this.#logger.warn(
        { sessionId: this.#id },
        "auth folder was replaced; starting a new journal",
      );
      this.#journal.forget();
    }
    if (!info) {
      // Deleting files of a folder that does not exist needs no folder.
      if (![...encoded.values()].some((data) => data !== null)) return;
      info = await this.#createFolder();
    }
    this.#journalFolder = info.ino;
    await this.#journal.append(encodeJournalRecord(encoded));
    for (const [name, data] of encoded) {
      this.#unapplied.delete(name);
      this.#unapplied.set(name, data);
    }
    this.#scheduleApply();
    this.#checkpointIfLarge();
  }

  /**
   * Starts a checkpoint in the background once the journal passes its threshold. A journal that
   * passed it again while one ran gets another; after a failure, the next append tries again.
   */
  #checkpointIfLarge(): void {
    if (this.#sizeCheckpoint || this.#journal.size < this.#checkpointBytes) return;
    this.#sizeCheckpoint = this.#checkpoint().then(
      () => {
        this.#sizeCheckpoint = null;
        this.#checkpointIfLarge();
      },
      (error) => {
        this.#sizeCheckpoint = null;
        this.#logger.warn({ sessionId: this.#id, err: error }, "auth checkpoint failed");
      },
    );
  }

  /** Applies journaled changes in the background, coalescing those that pile up meanwhile. */
  #scheduleApply(): void {
    if (this.#applyQueued) return;
    this.#applyQueued = true;
    this.#files.run(FILES, () => {
      this.#applyQueued = false;
      return this.#applyUnapplied();
    }).catch((error) => {
      // The journal holds them; the next apply or checkpoint (idle at the latest) tries again.
      this.#logger.warn(
        { sessionId: this.#id, err: error },
        "applying journaled auth writes failed",
      );
    }).then(() => this.#armIdleTimer());
  }

  /** Under `#files`: replaces the files with every journaled change, atomically, unsynced. */
  async #applyUnapplied(): Promise<void> {
    while (this.#unapplied.size > 0) {
      const changes = this.#unapplied;
      this.#unapplied = new Map();
      this.#applying = changes;
      try {
        await writeFilesAtomic(this.#dir, changes, {
          concurrency: this.#concurrency,
          durable: false,
        });
      } catch (error) {
        // Retried later, except where a newer change replaced them meanwhile.
        for (const [name, data] of this.#unapplied) {
          changes.delete(name);
          changes.set(name, data);
        }
        this.#unapplied = changes;
        throw error;
      } finally {
        this.#applying = null;
      }
      for (const [name, data] of changes) {
        if (data === null) this.#unsynced.delete(name);
        else this.#unsynced.add(name);
      }
      this.#folderUnsynced = true;
    }
  }

  /** Under `#files`: applies what is journaled, then syncs the files replaced and the folder. */
  async #syncApplied(): Promise<void> {
    await this.#applyUnapplied();
    const names = [...this.#unsynced];
    if (names.length > 0) await syncFiles(this.#dir, names, { concurrency: this.#concurrency });
    for (const name of names) this.#unsynced.delete(name);
    if (names.length > 0 || this.#folderUnsynced) {
      await syncDirectory(this.#dir);
      this.#folderUnsynced = false;
    }
  }

  /**
   * Makes the files durable and deletes the journal: first without holding up commits, then
   * (as a commit, so that no record is appended meanwhile) for the tail that arrived meanwhile.
   */
  async #checkpoint(): Promise<void> {
    await this.#files.run(FILES, () => this.#syncApplied());
    const finished = Promise.withResolvers<void>();
    this.#checkpointWaiters.push(finished);
    // The batch that commit also carries is its writers' concern; `finished` says how this went.
    this.#writer.request().catch(() => {});
    await finished.promise;
  }

  /** Under `#writer` and `#files`: the end of a checkpoint. */
  async #finishCheckpoint(): Promise<void> {
    this.#clearIdleTimer();
    if (!this.#journal.exists && this.#unapplied.size === 0 && this.#unsynced.size === 0) return;
    await this.#syncApplied();
    // Only now that the files hold every record durably may the records go.
    await this.#journal.remove();
  }

  #armIdleTimer(): void {
    if (this.#closed || !this.#journal.exists) return;
    this.#clearIdleTimer();
    const timer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#closed) return;
      this.#checkpoint().catch((error) => {
        this.#logger.warn({ sessionId: this.#id, err: error }, "idle auth checkpoint failed");
      });
    }, this.#idleMs);
    // A pending checkpoint never keeps the process alive: the journal is replayed on next open.
    Deno.unrefTimer(timer);
    this.#idleTimer = timer;
  }

  #clearIdleTimer(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  async #createFolder(): Promise<Deno.FileInfo> {
    try {
      await Deno.mkdir(this.#dir, { mode: 0o700 });
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    const info = await this.#lstatFolder();
    if (!info?.isDirectory) {
      throw new PersistenceError(`Auth folder of session '${this.#id}' is not a directory`);
    }
    // The folder's own entry must survive a crash, not just the files inside it.
    await syncDirectory(this.#dataDir);
    return info;
  }

  /** Under `#writer` and `#files`: removes the folder, its journal and every pending change. */
  async #removeFolder(): Promise<void> {
    const info = await this.#lstatFolder();
    if (info) {
      // Renaming first makes the deletion atomic and durable in one step (files and journal
      // alike), and leaves nothing at the session's path for a late writer to add files to
      // while the contents are removed.
      const trash = join(this.#dataDir, `${TRASH_PREFIX}${crypto.randomUUID()}`);
      await Deno.rename(this.#dir, trash);
      this.#forgetPending();
      await syncDirectory(this.#dataDir);
      if (!info.isDirectory) {
        this.#logger.warn(
          { sessionId: this.#id },
          "removed a non-directory at the auth folder path",
        );
      }
      try {
        await removeTree(trash);
      } catch (error) {
        // The session's auth is already gone from its path; the next open sweeps the rest.
        this.#logger.warn(
          { sessionId: this.#id, path: trash, err: error },
          "auth folder left in trash",
        );
      }
    } else {
      this.#forgetPending();
    }
  }

  #forgetPending(): void {
    this.#journal.forget();
    this.#unapplied.clear();
    this.#unsynced.clear();
    this.#folderUnsynced = false;
    this.#clearIdleTimer();
  }

  async #lstatFolder(): Promise<Deno.FileInfo | null> {
    try {
      return await Deno.lstat(this.#dir);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  }

  /** Blocking: an lstat costs less than a thread-pool round trip, and every read makes one. */
  #folderKind(): "missing" | "directory" | "other" {
    const info = lstatIfPresent(this.#dir);
    if (!info) return "missing";
    if (info.isDirectory) return "directory";
    this.#logger.warn({ sessionId: this.#id }, "auth folder path is not a directory; ignored");
    return "other";
  }

  async #names(limit: number): Promise<string[]> {
    if (this.#folderKind() !== "directory") return [];
    return await authFileNames(this.#dir, limit);
  }
}

/**
 * Names of the auth files in a folder (regular files with acceptable names), at most `limit`.
 *
 * @example
 * ```ts
 * const hasAuth = (await authFileNames("/data/shop-1", 1)).length > 0;
 * ```
 */
export async function authFileNames(dir: string, limit = Infinity): Promise<string[]> {
  const names: string[] = [];
  try {
    // A whole folder is listed synchronously: the async iterator costs a thread-pool round trip
    // per entry, and a linked session's folder holds ~800 pre-keys (opening a store of 1,000
    // sessions took 16 s, mostly waiting). A bounded listing stops early, which only the
    // iterator can.
    const entries = limit === Infinity ? Deno.readDirSync(dir) : Deno.readDir(dir);
    for await (const entry of entries) {
      if (!entry.isFile || authFileNameProblem(entry.name) !== null) continue;
      names.push(entry.name);
      if (names.length >= limit) break;
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return names.sort();
}

/**
 * Removes a directory tree (or a lone file or symlink, never its target), retrying when a file
 * appears inside it meanwhile.
 *
 * @example
 * ```ts
 * await removeTree("/data/.trash-1234");
 * ```
 */
export async function removeTree(path: string, attempts = 5): Promise<void> {
  for (let attempt = 1;; attempt++) {
    try {
      await Deno.remove(path, { recursive: true });
      return;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      const code = (error as { code?: string }).code;
      const racing = code === "ENOTEMPTY" || code === "EBUSY" || code === "EEXIST";
      if (!racing || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 * attempt));
    }
  }
}
