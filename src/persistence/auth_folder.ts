import { join } from "node:path";
import { PersistenceError } from "../domain/errors.ts";
import type { SessionId } from "../domain/session_id.ts";
import type { AuthFiles } from "../domain/session_store.ts";
import type { Logger } from "../logger.ts";
import { syncDirectory, writeFilesAtomic } from "./atomic_write.ts";
import type { AuthFileCodec } from "./auth_file_codec.ts";
import { assertAuthFileName, authFileNameProblem } from "./auth_file_name.ts";
import { TRASH_PREFIX } from "./data_dir_layout.ts";
import { GroupCommit } from "./group_commit.ts";
import { readRegularFile } from "./read_regular_file.ts";

/** What an {@linkcode AuthFolder} needs from its store. */
export interface AuthFolderOptions {
  dataDir: string;
  sessionId: SessionId;
  codec: AuthFileCodec;
  logger: Logger;
  /** How many files of one batch are written at once. */
  writeConcurrency: number;
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

/**
 * One session's auth files in `<dataDir>/<sessionId>/`. Writes are group-committed: the batches
 * that arrive while one is being written are merged (later values win) and written together,
 * with one directory sync. Reads see writes that are accepted but not yet on disk. A symlink at
 * the folder's path is never followed.
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
  readonly #assertUsable: () => void;
  readonly #writer = new GroupCommit(() => this.#commit());
  #queued: Batch = emptyBatch();
  #inFlight: Batch | null = null;

  constructor(options: AuthFolderOptions) {
    this.#dataDir = options.dataDir;
    this.#id = options.sessionId;
    this.#dir = join(options.dataDir, options.sessionId);
    this.#codec = options.codec;
    this.#logger = options.logger;
    this.#concurrency = options.writeConcurrency;
    this.#assertUsable = options.assertUsable;
  }

  /** Whether the folder holds at least one auth file, once the writes accepted so far are done. */
  async exists(): Promise<boolean> {
    this.#assertUsable();
    await this.#writer.settled();
    return (await this.#names(1)).length > 0;
  }

  /** Reads one file; `undefined` when it does not exist (or is not a regular file). */
  async read(name: string): Promise<Uint8Array | undefined> {
    assertAuthFileName(name);
    this.#assertUsable();
    const unwritten = this.#unwritten(name);
    if (unwritten !== undefined) return unwritten === null ? undefined : unwritten.slice();
    if ((await this.#folderKind()) !== "directory") return undefined;
    const result = await readRegularFile(join(this.#dir, name));
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
    return await this.#names(Infinity);
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

  /** Resolves once every write accepted so far has finished, successfully or not. */
  settled(): Promise<void> {
    return this.#writer.settled();
  }

  #unwritten(name: string): Uint8Array | null | undefined {
    for (const batch of [this.#queued, this.#inFlight]) {
      if (!batch) continue;
      if (batch.changes.has(name)) return batch.changes.get(name);
      if (batch.deleteFirst) return null;
    }
    return undefined;
  }

  async #commit(): Promise<void> {
    const batch = this.#queued;
    this.#queued = emptyBatch();
    if (!batch.deleteFirst && batch.changes.size === 0) return;
    this.#inFlight = batch;
    try {
      if (batch.deleteFirst) await this.#removeFolder();
      if (batch.changes.size > 0) await this.#apply(batch.changes);
    } finally {
      this.#inFlight = null;
    }
  }

  async #apply(changes: Map<string, Uint8Array | null>): Promise<void> {
    const kind = await this.#folderKind();
    if (kind === "other") {
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
    if (kind === "missing") {
      if (![...encoded.values()].some((data) => data !== null)) return;
      await this.#createFolder();
    }
    await writeFilesAtomic(this.#dir, encoded, { concurrency: this.#concurrency });
  }

  async #createFolder(): Promise<void> {
    try {
      await Deno.mkdir(this.#dir, { mode: 0o700 });
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    if ((await this.#folderKind()) !== "directory") {
      throw new PersistenceError(`Auth folder of session '${this.#id}' is not a directory`);
    }
    // The folder's own entry must survive a crash, not just the files inside it.
    await syncDirectory(this.#dataDir);
  }

  async #removeFolder(): Promise<void> {
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(this.#dir);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    // Renaming first makes the deletion atomic and durable in one step, and leaves nothing at the
    // session's path for a late writer to add files to while the contents are removed.
    const trash = join(this.#dataDir, `${TRASH_PREFIX}${crypto.randomUUID()}`);
    await Deno.rename(this.#dir, trash);
    await syncDirectory(this.#dataDir);
    if (!info.isDirectory) {
      this.#logger.warn({ sessionId: this.#id }, "removed a non-directory at the auth folder path");
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
  }

  async #folderKind(): Promise<"missing" | "directory" | "other"> {
    try {
      const info = await Deno.lstat(this.#dir);
      if (info.isDirectory) return "directory";
      this.#logger.warn({ sessionId: this.#id }, "auth folder path is not a directory; ignored");
      return "other";
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return "missing";
      throw error;
    }
  }

  async #names(limit: number): Promise<string[]> {
    if ((await this.#folderKind()) !== "directory") return [];
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
    for await (const entry of Deno.readDir(dir)) {
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
