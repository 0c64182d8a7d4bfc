import { DataDirectoryLockedError, PersistenceError } from "../domain/errors.ts";

/**
 * An exclusive, advisory lock on a data directory, held through an open lock file (`flock`), so
 * that only one process uses the directory at a time. The kernel releases it when the process
 * dies, however it dies, so a crash never leaves a stale lock behind. Local file systems only:
 * network file systems may not honour it.
 *
 * @example
 * ```ts
 * const lock = await DataDirLock.acquire("/data/.lock"); // throws DataDirectoryLockedError if taken
 * try {
 *   // use /data
 * } finally {
 *   await lock.release();
 * }
 * ```
 */
export class DataDirLock {
  readonly path: string;
  #file: Deno.FsFile | null;

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /**
   * Takes the lock without waiting; fails with `DataDirectoryLockedError` when another holder
   * (another process, or another open of the same directory) has it.
   */
  static async acquire(path: string): Promise<DataDirLock> {
    await refuseNonRegularFile(path);
    const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
    let locked: boolean;
    try {
      locked = await file.tryLock(true);
    } catch (error) {
      file.close();
      throw new PersistenceError(`Could not lock ${path}`, { cause: error });
    }
    if (!locked) {
      file.close();
      throw new DataDirectoryLockedError(path);
    }
    return new DataDirLock(path, file);
  }

  /** Whether this lock is still held. */
  get held(): boolean {
    return this.#file !== null;
  }

  /** Releases the lock; later calls do nothing. The lock file stays: deleting it would race. */
  async release(): Promise<void> {
    const file = this.#file;
    if (!file) return;
    this.#file = null;
    try {
      await file.unlock();
    } finally {
      file.close();
    }
  }
}

async function refuseNonRegularFile(path: string): Promise<void> {
  try {
    const info = await Deno.lstat(path);
    // Opening a symlink with `create` would create or open a file wherever it points.
    if (!info.isFile) throw new PersistenceError(`Lock file ${path} is not a regular file`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}
