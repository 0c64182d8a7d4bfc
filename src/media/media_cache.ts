/**
 * Downloaded media kept on disk, within `MEDIA_CACHE_BYTES`: `<dataDir>/.media/cache/<sessionId>/
 * <sha256 of the message id>`, each file exactly as WhatsApp encrypted it. Its key is only in the
 * message store (sealed there when `SESSIONS_ENCRYPTION_KEY` is set), so the cache holds nothing
 * readable by itself. The least recently used files go first; a session's go with it.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { MEDIA_DIR_NAME } from "../persistence/data_dir_layout.ts";
import { isSessionId } from "../domain/session_id.ts";
import { KeyedLock } from "../lib/keyed_lock.ts";

interface Entry {
  size: number;
  used: number;
}

/** The media cache of a data directory. */
export class MediaCache {
  readonly root: string;
  readonly #capBytes: number;
  #entries?: Map<string, Entry>;
  #loading?: Promise<Map<string, Entry>>;
  #total = 0;
  #lastUse = 0;
  /** Admissions and removals one at a time: two admitted at once would each see room for itself. */
  readonly #changes = new KeyedLock();

  constructor(dataDir: string, capBytes: number) {
    this.root = join(dataDir, MEDIA_DIR_NAME, "cache");
    this.#capBytes = capBytes;
  }

  /** Where a message's file is (or would be) kept. */
  pathOf(sessionId: string, messageId: string): string {
    if (!isSessionId(sessionId)) throw new Error(`not a session id: ${sessionId}`);
    const name = createHash("sha256").update(messageId).digest("hex");
    return join(this.root, sessionId, name);
  }

  /** The cached file of a message, if there is one (it becomes the most recently used). */
  async lookup(sessionId: string, messageId: string): Promise<string | undefined> {
    const entries = await this.#index();
    const path = this.pathOf(sessionId, messageId);
    const entry = entries.get(path);
    if (!entry) return undefined;
    entry.used = this.#now();
    return path;
  }

  /**
   * Moves a verified download into the cache, evicting the least recently used files to make
   * room; returns its new path, or `undefined` when it is larger than the whole cache (the caller
   * keeps serving it from where it is).
   */
  admit(
    sessionId: string,
    messageId: string,
    file: string,
    size: number,
  ): Promise<string | undefined> {
    if (size > this.#capBytes) return Promise.resolve(undefined);
    return this.#changes.run("cache", () => this.#admit(sessionId, messageId, file, size));
  }

  async #admit(
    sessionId: string,
    messageId: string,
    file: string,
    size: number,
  ): Promise<string> {
    const entries = await this.#index();
    const path = this.pathOf(sessionId, messageId);
    await this.#forget(path);
    while (this.#total + size > this.#capBytes && entries.size > 0) {
      const [oldest] = [...entries].reduce((a, b) => (b[1].used < a[1].used ? b : a));
      await this.#forget(oldest);
    }
    await Deno.mkdir(join(this.root, sessionId), { recursive: true, mode: 0o700 });
    await Deno.rename(file, path);
    entries.set(path, { size, used: this.#now() });
    this.#total += size;
    return path;
  }

  /** Drops a message's cached file (one found not to match its message). */
  evict(sessionId: string, messageId: string): Promise<void> {
    return this.#changes.run("cache", async () => {
      await this.#index();
      await this.#forget(this.pathOf(sessionId, messageId));
    });
  }

  /** Removes every cached file of a session. */
  removeSession(sessionId: string): Promise<void> {
    if (!isSessionId(sessionId)) return Promise.resolve();
    return this.#changes.run("cache", async () => {
      const entries = await this.#index();
      const folder = join(this.root, sessionId);
      for (const [path, entry] of entries) {
        if (path.startsWith(`${folder}/`)) {
          entries.delete(path);
          this.#total -= entry.size;
        }
      }
      await Deno.remove(folder, { recursive: true }).catch(() => {});
    });
  }

  /** Bytes cached now. */
  async size(): Promise<number> {
    await this.#index();
    return this.#total;
  }

  /**
   * A time of use later than every one before it: two uses in one millisecond must still be
   * ordered, or the file just used could be the one evicted.
   */
  #now(): number {
    this.#lastUse = Math.max(Date.now(), this.#lastUse + 1);
    return this.#lastUse;
  }

  async #forget(path: string): Promise<void> {
    const entry = this.#entries!.get(path);
    if (!entry) return;
    this.#entries!.delete(path);
    this.#total -= entry.size;
    await Deno.remove(path).catch(() => {});
  }

  /** What is on disk, read once (the order of use is lost across restarts: mtime stands in). */
  #index(): Promise<Map<string, Entry>> {
    this.#loading ??= this.#load();
    return this.#loading;
  }

  async #load(): Promise<Map<string, Entry>> {
    const entries = new Map<string, Entry>();
    try {
      for await (const session of Deno.readDir(this.root)) {
        if (!session.isDirectory) continue;
        for await (const file of Deno.readDir(join(this.root, session.name))) {
          const path = join(this.root, session.name, file.name);
          const info = await Deno.stat(path);
          if (!info.isFile) continue;
          entries.set(path, { size: info.size, used: info.mtime?.getTime() ?? 0 });
          this.#total += info.size;
        }
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    this.#entries = entries;
    // A cap lowered since the last run: trim at once.
    while (this.#total > this.#capBytes && entries.size > 0) {
      const [oldest] = [...entries].reduce((a, b) => (b[1].used < a[1].used ? b : a));
      await this.#forget(oldest);
    }
    return entries;
  }
}
