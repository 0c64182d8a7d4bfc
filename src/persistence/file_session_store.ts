import { join } from "node:path";
import {
  InvalidSessionIdError,
  PersistenceError,
  SessionAlreadyExistsError,
  SessionNotFoundError,
  ValidationError,
} from "../domain/errors.ts";
import type { Fence } from "../domain/fence.ts";
import { type SessionRecord, SessionRecordSchema } from "../domain/session.ts";
import { isSessionId, type SessionId } from "../domain/session_id.ts";
import type {
  AuthFiles,
  QuarantinedEntry,
  SessionReportChange,
  SessionSpecChange,
  SessionStore,
  StoreLoadReport,
} from "../domain/session_store.ts";
import { pickReport, pickSpec } from "./session_record_fields.ts";
import type { Logger } from "../logger.ts";
import {
  createDirectoryDurably,
  removeStaleTempFiles,
  syncDirectory,
  writeFileAtomic,
} from "./atomic_write.ts";
import { checkAuthAtRest, migrateAuthAtRest } from "./auth_at_rest.ts";
import { type AuthFileCodec, plainCodec } from "./auth_file_codec.ts";
import { authFileNames, AuthFolder, removeTree } from "./auth_folder.ts";
import { replayAuthJournal } from "./auth_journal.ts";
import { DataDirLock } from "./data_dir_lock.ts";
import { clearCleanClose, closedCleanly, markClosedCleanly } from "./clean_close_marker.ts";
import {
  corruptMetadataName,
  CREDS_FILE_NAME,
  fileStamp,
  isStoreFileName,
  LOCK_FILE_NAME,
  METADATA_FILE_NAME,
  quarantineFileName,
  TEMP_FILE_PREFIX,
  TRASH_PREFIX,
} from "./data_dir_layout.ts";
import { GroupCommit } from "./group_commit.ts";
import { forEachLimited } from "../lib/for_each_limited.ts";
import { MetadataDocument, parseMetadata, recoveredRecord } from "./metadata_file.ts";
import type { ValueSealer } from "./sealed_value.ts";
import { lstatIfPresent, readRegularFile } from "./read_regular_file.ts";

/** Options of {@linkcode FileSessionStore}. */
export interface FileSessionStoreOptions {
  /** The data directory; created (mode 0700) if absent. */
  dataDir: string;
  logger: Logger;
  /** Source of the current time, for file stamps and recovered records. */
  clock?: () => Date;
  /** How auth file contents are stored; as they are by default. */
  codec?: AuthFileCodec;
  /**
   * Seals webhook secrets in the metadata file (set with an encryption key). Without it, secrets
   * are stored as they are, and a metadata file holding sealed ones cannot be opened.
   */
  sealer?: ValueSealer;
  /** How many auth files of one batch are written (or synced) at once (default 8). */
  writeConcurrency?: number;
  /** Size in bytes past which an auth folder's journal is checkpointed (default 4 MiB). */
  journalCheckpointBytes?: number;
  /** Idle time after which an auth folder's journal is checkpointed (default 1,000 ms). */
  journalIdleMs?: number;
}

type State = "new" | "opening" | "open" | "closing" | "closed";

/** How many session folders are looked at (or their journals replayed) at once when opening. */
const FOLDER_CONCURRENCY = 16;

/**
 * The durable, single-process file implementation of `SessionStore`: the data directory's lock
 * makes this process the owner of every session, so it accepts every fence. See `data_dir_layout.ts` for
 * what lies where. Metadata lives in memory and is written whole, atomically, by one
 * group-committing writer, so concurrent saves never lose each other and a burst of saves costs
 * a few writes. A session whose metadata is lost (the file was unreadable, or its entry was
 * quarantined) but whose auth folder exists is recreated as `disconnected` and listed in
 * `rebuiltFromAuth`. Auth folders that never had metadata (dropped in) are left to the caller:
 * `listAuth()` lists them.
 *
 * @example
 * ```ts
 * const store = new FileSessionStore({ dataDir: "sessions_data", logger });
 * const report = await store.open();
 * await store.create(record);
 * await store.report(singleOwnerFence(record.id), { status: "connected" });
 * await store.auth(singleOwnerFence(record.id)).write(new Map([["creds.json", bytes]]));
 * await store.close();
 * ```
 */
export class FileSessionStore implements SessionStore {
  readonly #dataDir: string;
  readonly #metadataPath: string;
  readonly #logger: Logger;
  readonly #clock: () => Date;
  readonly #codec: AuthFileCodec;
  readonly #writeConcurrency: number;
  readonly #journalCheckpointBytes: number;
  readonly #journalIdleMs: number;
  readonly #records = new Map<SessionId, SessionRecord>();
  /** The metadata file's content, in step with `#records`. */
  readonly #document: MetadataDocument;
  readonly #sealer?: ValueSealer;
  readonly #authFolders = new Map<SessionId, AuthFolder>();
  readonly #metadataWriter = new GroupCommit(() => this.#commitMetadata());
  #state: State = "new";
  #lock: DataDirLock | null = null;
  #opening: Promise<StoreLoadReport> | null = null;
  #closing: Promise<void> | null = null;
  /** Bumped on every in-memory change; compared with what the last successful write held. */
  #version = 0;
  #durableVersion = 0;
  #metadataWrites = 0;

  constructor(options: FileSessionStoreOptions) {
    this.#dataDir = options.dataDir;
    this.#metadataPath = join(options.dataDir, METADATA_FILE_NAME);
    this.#logger = options.logger;
    this.#clock = options.clock ?? (() => new Date());
    this.#codec = options.codec ?? plainCodec;
    this.#sealer = options.sealer;
    this.#document = new MetadataDocument(options.sealer);
    this.#writeConcurrency = options.writeConcurrency ?? 8;
    this.#journalCheckpointBytes = options.journalCheckpointBytes ?? 4 * 1024 * 1024;
    this.#journalIdleMs = options.journalIdleMs ?? 1_000;
  }

  /** How many times the metadata file has been written since this store was created. */
  get metadataWrites(): number {
    return this.#metadataWrites;
  }

  /**
   * Creates the data directory if needed, takes its lock (or fails with
   * `DataDirectoryLockedError`), checks the auth files, journals included, against the codec
   * (`EncryptionKeyError` on a wrong or missing key, before anything is written), removes what a
   * crash left half-done, replays the auth journals a crash left, encrypts plaintext folders
   * when the codec encrypts, then loads the metadata. Unreadable metadata is moved aside and rebuilt; invalid
   * entries are quarantined.
   */
  async open(): Promise<StoreLoadReport> {
    if (this.#state !== "new") {
      throw new PersistenceError(`Cannot open a store that is ${this.#state}`);
    }
    this.#state = "opening";
    this.#opening = this.#open();
    try {
      return await this.#opening;
    } finally {
      this.#opening = null;
    }
  }

  async #open(): Promise<StoreLoadReport> {
    try {
      await this.#prepareDirectory();
      this.#lock = await DataDirLock.acquire(join(this.#dataDir, LOCK_FILE_NAME));
      const atRest = { dataDir: this.#dataDir, codec: this.#codec };
      // Before anything is written: a wrong or missing key must leave every file as it is.
      await checkAuthAtRest({ ...atRest, sessionIds: await this.#sessionFolderIds() });
      const closedCleanlyBefore = closedCleanly(this.#dataDir);
      await clearCleanClose(this.#dataDir);
      const folders = await this.#sweepAndScan({ sweepSessionFolders: !closedCleanlyBefore });
      await migrateAuthAtRest({ ...atRest, sessionIds: [...folders.keys()], logger: this.#logger });
      const report = await this.#load(folders);
      this.#state = "open";
      return report;
    } catch (error) {
      await this.#lock?.release();
      this.#lock = null;
      this.#records.clear();
      this.#document.clear();
      this.#state = "new";
      throw error;
    }
  }

  /** Adds a new session; `SessionAlreadyExistsError` if the id exists. Durable on resolve. */
  async create(record: SessionRecord): Promise<void> {
    this.#assertUsable();
    const id = this.#checkId(record?.id);
    if (this.#records.has(id)) throw new SessionAlreadyExistsError(id);
    await this.#put(record);
  }

  /** One session's record; `undefined` when there is none. */
  get(id: SessionId): Promise<SessionRecord | undefined> {
    this.#assertUsable();
    return Promise.resolve(this.#records.get(this.#checkId(id)));
  }

  /** Whether a session exists (synchronously: this process holds every record). */
  has(id: SessionId): boolean {
    return this.#records.has(id);
  }

  /** Every session's record. */
  list(): Promise<SessionRecord[]> {
    this.#assertUsable();
    return Promise.resolve([...this.#records.values()]);
  }

  /**
   * Changes a session's spec. One process holds the records, so `change` runs once, on the
   * latest record, and no other write can come between.
   */
  async updateSpec(
    id: SessionId,
    change: (current: SessionRecord) => SessionSpecChange,
  ): Promise<SessionRecord> {
    this.#assertUsable();
    const current = this.#require(id);
    const next = { ...current, ...pickSpec(change(current)) };
    await this.#put(next);
    return next;
  }

  /** Writes the owner's report. This process owns every session, so every fence is current. */
  async report(fence: Fence, fields: SessionReportChange): Promise<SessionRecord> {
    this.#assertUsable();
    const next = { ...this.#require(fence?.sessionId), ...pickReport(fields) };
    await this.#put(next);
    return next;
  }

  /**
   * Removes a session: its auth folder, then its metadata; resolves once both are durable.
   * Unknown ids are a no-op.
   */
  async remove(id: SessionId): Promise<void> {
    this.#assertUsable();
    const checked = this.#checkId(id);
    await this.#authFolder(checked).delete();
    if (this.#records.delete(checked)) {
      this.#document.delete(checked);
      this.#version++;
    }
    // Even a no-op waits, so that an earlier removal of the same id in flight is durable.
    await this.#metadataWriter.request();
  }

  /**
   * Replaces a record in memory and writes it, resolving once durable. Rejects with
   * `ValidationError` for a record the next open would quarantine. If the write fails the promise
   * rejects, and the change, still in memory, goes out with the next write.
   */
  async #put(record: SessionRecord): Promise<void> {
    const parsed = SessionRecordSchema.safeParse(record);
    if (!parsed.success) {
      // Never write what the next open would quarantine.
      throw new ValidationError(`Session record '${record.id}' is invalid`, parsed.error.issues);
    }
    this.#setRecord(parsed.data);
    this.#version++;
    await this.#metadataWriter.request();
  }

  #require(id: unknown): SessionRecord {
    const record = this.#records.get(this.#checkId(id));
    if (!record) throw new SessionNotFoundError(String(id));
    return record;
  }

  /**
   * The auth files of one session; throws `InvalidSessionIdError` for an invalid id. Every fence
   * is current here (one process owns every session).
   */
  auth(fence: Fence): AuthFiles {
    return this.#authFolder(this.#checkId(fence?.sessionId));
  }

  #authFolder(id: SessionId): AuthFolder {
    let folder = this.#authFolders.get(id);
    if (!folder) {
      folder = new AuthFolder({
        dataDir: this.#dataDir,
        sessionId: id,
        codec: this.#codec,
        logger: this.#logger,
        writeConcurrency: this.#writeConcurrency,
        checkpointBytes: this.#journalCheckpointBytes,
        idleCheckpointMs: this.#journalIdleMs,
        assertUsable: () => this.#assertUsable(),
      });
      this.#authFolders.set(id, folder);
    }
    return folder;
  }

  /** Ids of the session folders that hold at least one auth file. */
  async listAuth(): Promise<SessionId[]> {
    this.#assertUsable();
    await Promise.all([...this.#authFolders.values()].map((folder) => folder.settled()));
    return [...(await this.#scanAuthFolders()).keys()];
  }

  /** Waits until every write accepted so far is durable; rejects if metadata cannot be written. */
  async flush(): Promise<void> {
    this.#assertUsable();
    await this.#flushAll();
  }

  /**
   * Flushes (checkpointing every auth journal, so the folders are left in Baileys' plain layout),
   * then releases the lock. Later calls of other methods reject; closing again is a no-op.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // An open in progress finishes first, so that its lock is released here, not leaked.
    await this.#opening?.catch(() => {});
    const wasOpen = this.#state === "open";
    this.#state = "closing";
    try {
      if (wasOpen) {
        await Promise.all([...this.#authFolders.values()].map((folder) => folder.close()));
        await this.#flushAll();
        await markClosedCleanly(this.#dataDir);
      }
    } finally {
      await this.#lock?.release();
      this.#lock = null;
      this.#state = "closed";
    }
  }

  async #flushAll(): Promise<void> {
    await Promise.all([...this.#authFolders.values()].map((folder) => folder.settled()));
    await this.#metadataWriter.settled();
    // A failed write leaves memory ahead of the file: try once more, and say so if it fails.
    if (this.#version !== this.#durableVersion) await this.#metadataWriter.request();
  }

  #setRecord(record: SessionRecord): void {
    this.#records.set(record.id, record);
    this.#document.set(record);
  }

  #assertUsable(): void {
    if (this.#state === "open") return;
    throw new PersistenceError(
      this.#state === "closing" || this.#state === "closed"
        ? "The session store is closed"
        : "The session store is not open",
    );
  }

  #checkId(id: unknown): SessionId {
    if (!isSessionId(id)) throw new InvalidSessionIdError(String(id));
    return id;
  }

  async #commitMetadata(): Promise<void> {
    const version = this.#version;
    if (version === this.#durableVersion) return;
    await this.#writeMetadata();
    this.#durableVersion = version;
  }

  async #writeMetadata(): Promise<void> {
    await writeFileAtomic(this.#metadataPath, this.#document.toBytes());
    this.#metadataWrites++;
  }

  async #prepareDirectory(): Promise<void> {
    await createDirectoryDurably(this.#dataDir, {
      mode: 0o700,
      // Deno's permissions may cover the data directory only; its entry then rests on the file
      // system's own commit (seconds on ext4) until the parent is synced some other way.
      onParentNotSynced: (parent) =>
        this.#logger.warn(
          { dataDir: this.#dataDir, parent },
          "created the data directory but may not read its parent to sync it; create the " +
            "directory before the first start to be safe from a power loss in the first seconds",
        ),
    });
    try {
      await Deno.chmod(this.#dataDir, 0o700);
    } catch (error) {
      this.#logger.warn(
        { dataDir: this.#dataDir, err: error },
        "could not make data directory 0700",
      );
    }
  }

  /** Ids of the data directory's session folders (real directories, with files or not). */
  async #sessionFolderIds(): Promise<SessionId[]> {
    const ids: SessionId[] = [];
    for await (const entry of Deno.readDir(this.#dataDir)) {
      if (entry.isDirectory && isSessionId(entry.name)) ids.push(entry.name);
    }
    return ids.sort();
  }

  /**
   * Removes leftovers of interrupted writes and deletions (in the session folders too unless the
   * store closed cleanly last time: see `clean_close_marker.ts`) and replays auth journals (safe:
   * the lock is held and nothing is being written yet), and returns the session folders that hold
   * auth files.
   */
  async #sweepAndScan(
    options: { sweepSessionFolders: boolean },
  ): Promise<Map<SessionId, Deno.FileInfo>> {
    let swept = 0;
    const sessionFolders: string[] = [];
    for await (const entry of Deno.readDir(this.#dataDir)) {
      const path = join(this.#dataDir, entry.name);
      if (entry.isDirectory && isSessionId(entry.name)) sessionFolders.push(path);
      try {
        if (entry.name.startsWith(TRASH_PREFIX)) {
          await removeTree(path);
          swept++;
        } else if (entry.name.startsWith(TEMP_FILE_PREFIX) && entry.isFile) {
          await Deno.remove(path);
          swept++;
        } else if (options.sweepSessionFolders && entry.isDirectory && isSessionId(entry.name)) {
          swept += await removeStaleTempFiles(path);
        }
      } catch (error) {
        // Leftovers are inert (no session reads them): not a reason to refuse to start.
        this.#logger.warn(
          { path, err: error },
          "could not remove a leftover of an interrupted write",
        );
      }
    }
    if (swept > 0) this.#logger.info({ removed: swept }, "removed leftovers of interrupted writes");
    // Unlike leftovers, a journal holds acknowledged writes: failing to replay one fails open.
    await forEachLimited(sessionFolders, FOLDER_CONCURRENCY, (path) => this.#replayJournal(path));
    return await this.#scanAuthFolders();
  }

  async #replayJournal(folder: string): Promise<void> {
    const replay = await replayAuthJournal(folder, { concurrency: this.#writeConcurrency });
    if (!replay) return;
    const fields = { folder, records: replay.records, files: replay.files };
    if (replay.problem === null) {
      this.#logger.info(fields, "replayed the auth journal left by a crash");
    } else {
      this.#logger.warn(
        { ...fields, ignoredBytes: replay.ignoredBytes, reason: replay.problem },
        "replayed the auth journal left by a crash; ignored its torn last record",
      );
    }
  }

  /** Valid session folders (real directories, never symlinks) that hold auth files. */
  async #scanAuthFolders(): Promise<Map<SessionId, Deno.FileInfo>> {
    const entries = await Array.fromAsync(Deno.readDir(this.#dataDir));
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const candidates: SessionId[] = [];
    for (const entry of entries) {
      if (isStoreFileName(entry.name)) continue;
      if (!isSessionId(entry.name) || !entry.isDirectory) {
        this.#logger.warn(
          { entry: entry.name, symlink: entry.isSymlink },
          "ignoring data directory entry that is not a session folder",
        );
        continue;
      }
      candidates.push(entry.name);
    }
    const infos: (Deno.FileInfo | null)[] = [];
    await forEachLimited(candidates, FOLDER_CONCURRENCY, async (id, i) => {
      const path = join(this.#dataDir, id);
      // A linked session's folder has creds.json: found without listing its hundreds of keys.
      const holdsAuth = hasCreds(path) || (await authFileNames(path, 1)).length > 0;
      infos[i] = holdsAuth ? await Deno.lstat(path) : null;
    });
    const folders = new Map<SessionId, Deno.FileInfo>();
    candidates.forEach((id, i) => {
      if (infos[i]) folders.set(id, infos[i]);
    });
    return folders;
  }

  async #load(folders: Map<SessionId, Deno.FileInfo>): Promise<StoreLoadReport> {
    const report: StoreLoadReport = {
      sessions: [],
      quarantined: [],
      corruptMetadata: null,
      rebuiltFromAuth: [],
    };
    let rewrite = false;
    /** Ids whose metadata was lost here, and so is rebuilt if they have auth files. */
    let lost: (id: SessionId) => boolean = () => false;
    const read = await readRegularFile(this.#metadataPath);
    if (read.kind === "missing") {
      this.#logger.info({ path: this.#metadataPath }, "creating session metadata file");
      rewrite = true;
    } else {
      const parsed = read.kind === "file"
        ? parseMetadata(read.data, this.#sealer)
        : { ok: false as const, reason: "not a regular file" };
      if (!parsed.ok) {
        const movedTo = await this.#setAside(corruptMetadataName(fileStamp(this.#clock())));
        report.corruptMetadata = { movedTo, reason: parsed.reason };
        this.#logger.error(
          { path: this.#metadataPath, movedTo, reason: parsed.reason },
          "session metadata is unreadable: moved aside, rebuilding it from the auth folders",
        );
        lost = () => true;
        rewrite = true;
      } else {
        for (const record of parsed.records) this.#setRecord(record);
        if (parsed.plaintextSecrets > 0) {
          this.#logger.info(
            { secrets: parsed.plaintextSecrets },
            "encrypting webhook secrets in the session metadata",
          );
          rewrite = true;
        }
        if (parsed.rejected.length > 0) {
          report.quarantined = await this.#quarantine(parsed.rejected);
          const quarantined = new Set(parsed.rejected.map((entry) => entry.key));
          lost = (id) => quarantined.has(id);
          rewrite = true;
        }
      }
    }

    for (const [id, info] of folders) {
      if (this.#records.has(id) || !lost(id)) continue;
      const createdAt = info.birthtime ?? info.mtime ?? this.#clock();
      this.#setRecord(recoveredRecord(id, createdAt));
      report.rebuiltFromAuth.push(id);
      rewrite = true;
    }
    if (report.rebuiltFromAuth.length > 0) {
      this.#logger.warn(
        { sessions: report.rebuiltFromAuth },
        "recreated lost metadata of sessions that have auth folders",
      );
    }

    if (rewrite) await this.#writeMetadata();
    report.sessions = [...this.#records.values()];
    return report;
  }

  /** Moves the metadata file aside under `name` (made unique), durably; returns the new path. */
  async #setAside(name: string): Promise<string> {
    const target = await this.#unusedPath(name);
    await Deno.rename(this.#metadataPath, target);
    await syncDirectory(this.#dataDir);
    return target;
  }

  async #quarantine(
    rejected: { key: string; reason: string; value: unknown }[],
  ): Promise<QuarantinedEntry[]> {
    const path = await this.#unusedPath(quarantineFileName(fileStamp(this.#clock())));
    const kept = Object.fromEntries(
      rejected.map(({ key, reason, value }) => [key, { reason, entry: value }]),
    );
    // Written before the metadata is rewritten without them, so the entries are never lost.
    await writeFileAtomic(path, new TextEncoder().encode(`${JSON.stringify(kept, null, 2)}\n`));
    const quarantined = rejected.map(({ key, reason }) => ({ key, reason }));
    this.#logger.error(
      { path, entries: quarantined },
      "invalid session metadata entries quarantined",
    );
    return quarantined;
  }

  async #unusedPath(name: string): Promise<string> {
    for (let n = 1;; n++) {
      const path = join(this.#dataDir, n === 1 ? name : `${name}-${n}`);
      try {
        await Deno.lstat(path);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return path;
        throw error;
      }
    }
  }
}

/** Whether a folder holds a regular `creds.json` (blocking: one lstat, while opening). */
function hasCreds(folder: string): boolean {
  return lstatIfPresent(join(folder, CREDS_FILE_NAME))?.isFile ?? false;
}
