import { join } from "node:path";
import { PersistenceError } from "../domain/errors.ts";
import { syncDirectory, writeFilesAtomic } from "./atomic_write.ts";
import { decodeJournalRecords } from "./auth_journal_record.ts";
import { JOURNAL_FILE_NAME } from "./data_dir_layout.ts";
import { readRegularFile } from "./read_regular_file.ts";

/**
 * The write-ahead journal of one auth folder (`<folder>/.journal`): records are appended and
 * made durable with one `fdatasync`, which is what makes a batch of auth writes durable. The file
 * exists only while it may hold records the folder's files do not: it is created by the first
 * append and removed by {@linkcode AuthJournal.remove} once the files are durable (a checkpoint).
 *
 * Not safe for concurrent use: the owning `AuthFolder` calls it from one queue.
 *
 * @example
 * ```ts
 * const journal = new AuthJournal("/data/shop-1");
 * await journal.append(encodeJournalRecord(changes)); // durable now
 * ```
 */
export class AuthJournal {
  readonly #dir: string;
  readonly #path: string;
  #file: Deno.FsFile | null = null;
  /** Bytes of whole, durable records. */
  #size = 0;
  /** Whether the file's directory entry is known to be durable. */
  #entryDurable = false;
  /** Whether a failed append may have left part of a record after `#size`. */
  #tailDirty = false;

  constructor(dir: string) {
    this.#dir = dir;
    this.#path = join(dir, JOURNAL_FILE_NAME);
  }

  /** Bytes of records appended since the journal was created. */
  get size(): number {
    return this.#size;
  }

  /** Whether the journal file exists (was created and not removed since). */
  get exists(): boolean {
    return this.#file !== null;
  }

  /** Appends a record and makes it durable; creates the journal first if needed. */
  async append(record: Uint8Array): Promise<void> {
    if (!this.#file) {
      // createNew (O_EXCL) never follows a symlink planted at the path, nor reuses a stale file.
      try {
        this.#file = await Deno.open(this.#path, { append: true, createNew: true, mode: 0o600 });
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
        throw new PersistenceError(
          `${this.#path} exists but was not replayed when the store opened; refusing to append`,
        );
      }
      this.#size = 0;
      this.#entryDurable = false;
      this.#tailDirty = false;
    }
    const file = this.#file;
    if (this.#tailDirty) {
      await file.truncate(this.#size);
      this.#tailDirty = false;
    }
    try {
      let written = 0;
      while (written < record.length) written += await file.write(record.subarray(written));
      await file.syncData();
      // A new file's name is durable only once its directory is synced.
      if (!this.#entryDurable) {
        await syncDirectory(this.#dir);
        this.#entryDurable = true;
      }
    } catch (error) {
      // Whatever reached the file is cut off, so the next record does not follow garbage (a
      // replay would stop at it and miss the later records).
      this.#tailDirty = true;
      await file.truncate(this.#size).then(() => this.#tailDirty = false, () => {});
      throw error;
    }
    this.#size += record.length;
  }

  /**
   * Closes and deletes the journal. Only once the folder's files hold every record durably: a
   * journal that reappears after a crash (the deletion itself is not synced) replays only what
   * the files already hold, and the next append syncs the directory anyway.
   */
  async remove(): Promise<void> {
    try {
      await Deno.remove(this.#path);
    } catch (error) {
      // Still there: keep appending to it (its records are all in the files, so that is safe).
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    this.forget();
  }

  /** Closes the journal without deleting it: its folder was moved away or deleted. */
  forget(): void {
    this.#file?.close();
    this.#file = null;
    this.#size = 0;
    this.#entryDurable = false;
    this.#tailDirty = false;
  }
}

/** What {@linkcode replayAuthJournal} did. */
export interface JournalReplay {
  /** Whole records re-applied. */
  records: number;
  /** Files written or deleted. */
  files: number;
  /** Bytes after the last whole record (a record torn by a crash), ignored. */
  ignoredBytes: number;
  /** Why those bytes were ignored. */
  problem: string | null;
}

/**
 * Re-applies the journal a crash left in an auth folder: every whole record, in order, durably;
 * then deletes the journal. A torn record at the tail was never acknowledged and is ignored.
 * Returns `null` when the folder has no journal. Only call it while nothing writes to the folder
 * (the store does, on open, under its lock).
 *
 * @example
 * ```ts
 * const replay = await replayAuthJournal("/data/shop-1");
 * ```
 */
export async function replayAuthJournal(
  dir: string,
  options: { concurrency?: number } = {},
): Promise<JournalReplay | null> {
  const path = join(dir, JOURNAL_FILE_NAME);
  const read = await readRegularFile(path);
  if (read.kind === "missing") return null;
  if (read.kind === "not_regular") {
    throw new PersistenceError(`${path} is not a regular file; remove it to use this session`);
  }
  const decoded = decodeJournalRecords(read.data);
  // Later records win, so each file is written once, with what it held last.
  const changes = new Map<string, Uint8Array | null>();
  for (const record of decoded.records) {
    for (const [name, data] of record) {
      changes.delete(name);
      changes.set(name, data);
    }
  }
  await writeFilesAtomic(dir, changes, { concurrency: options.concurrency });
  await Deno.remove(path);
  await syncDirectory(dir);
  return {
    records: decoded.records.length,
    files: changes.size,
    ignoredBytes: read.data.length - decoded.validBytes,
    problem: decoded.problem,
  };
}
