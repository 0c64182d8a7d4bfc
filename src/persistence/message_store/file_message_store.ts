import { join } from "node:path";
import { PersistenceError, ValidationError } from "../../domain/errors.ts";
import type { Fence } from "../../domain/fence.ts";
import type {
  ChatSummary,
  HistoryRequest,
  IdempotencyRecord,
  IdempotencyRecords,
  IdempotentResponse,
  MessagePatch,
  MessageRetention,
  MessageStore,
  MessageStoreLoadReport,
  NewIdempotencyRecord,
  Page,
  PageRequest,
  SessionMessagesDump,
  StoredMessage,
} from "../../domain/message_store.ts";
import { isSessionId, type SessionId } from "../../domain/session_id.ts";
import type { Logger } from "../../logger.ts";
import { removeStaleTempFiles, syncDirectory } from "../atomic_write.ts";
import { rewriteJsonlFile } from "../jsonl_log.ts";
import { MESSAGE_STORE_DIR_NAME, TRASH_PREFIX } from "../data_dir_layout.ts";
import { sealedValueNeedsKey, type ValueSealer } from "../sealed_value.ts";
import { type Opener, resealLine } from "./message_log_record.ts";
import { chatsPage, historyPage } from "./message_pages.ts";
import { MESSAGE_LOG_FILE_NAME, SessionMessageLog } from "./session_message_log.ts";

/** Options of {@linkcode FileMessageStore}. */
export interface FileMessageStoreOptions {
  /** The (locked) data directory; the store lives in its `.message-store/` folder. */
  dataDir: string;
  logger: Logger;
  retention: MessageRetention;
  /** Seals every line's body (set with an encryption key); sealed lines need it to be read. */
  sealer?: ValueSealer;
  clock?: () => Date;
}

/**
 * The message store as one append-only JSONL log per session, in
 * `<dataDir>/.message-store/<sessionId>/messages.jsonl`. Each session's messages live in memory
 * (bounded by the retention's size cap); every write is appended and synced (group-committed)
 * before it resolves, and the log is compacted to the live state when it has grown, on open and
 * after a prune. A crash leaves at most a torn last line, which the next open drops. Only one
 * process opens a data directory, so every fence is accepted.
 *
 * @example
 * ```ts
 * const store = new FileMessageStore({ dataDir, logger, retention });
 * await store.open();
 * await store.put({ sessionId: "shop-1", epoch: 0 }, [message]);
 * await store.get("shop-1", message.id); // the message
 * ```
 */
export class FileMessageStore implements MessageStore {
  readonly idempotency: IdempotencyRecords;
  readonly #dir: string;
  readonly #logger: Logger;
  readonly #retention: MessageRetention;
  readonly #sealer?: ValueSealer;
  readonly #clock: () => Date;
  readonly #logs = new Map<SessionId, Promise<SessionMessageLog>>();
  #state: "new" | "open" | "closed" = "new";

  constructor(options: FileMessageStoreOptions) {
    this.#dir = join(options.dataDir, MESSAGE_STORE_DIR_NAME);
    this.#logger = options.logger;
    this.#retention = options.retention;
    this.#sealer = options.sealer;
    this.#clock = options.clock ?? (() => new Date());
    this.idempotency = {
      claim: (fence, record) => this.#claim(fence, record),
      complete: (fence, key, response) => this.#complete(fence, key, response),
      release: async (fence, key) => {
        await (await this.#write(fence)).deleteIdempotency(key);
      },
    };
  }

  async open(): Promise<MessageStoreLoadReport> {
    if (this.#state !== "new") throw new PersistenceError("The message store is already open");
    await Deno.mkdir(this.#dir, { recursive: true, mode: 0o700 });
    await syncDirectory(join(this.#dir, ".."));
    await removeStaleTempFiles(this.#dir);
    const report: MessageStoreLoadReport = {
      sessionIds: [],
      sessions: 0,
      messages: 0,
      repairs: [],
    };
    const logs: SessionMessageLog[] = [];
    for await (const entry of Deno.readDir(this.#dir)) {
      if (entry.name.startsWith(TRASH_PREFIX)) {
        // A deletion cut short by a crash: finish it.
        await Deno.remove(join(this.#dir, entry.name), { recursive: true });
        continue;
      }
      if (!entry.isDirectory || !isSessionId(entry.name)) continue;
      const log = this.#newLog(entry.name);
      await removeStaleTempFiles(join(this.#dir, entry.name));
      const load = await log.open(this.#opener(log.path), this.#clock());
      if (load.tornTail) report.repairs.push(`${log.path}: dropped an incomplete last line`);
      if (load.invalidLines > 0) {
        report.repairs.push(
          `${log.path}: ${load.invalidLines} invalid line(s) skipped; kept as ${load.corruptCopy}`,
        );
      }
      this.#logs.set(entry.name, Promise.resolve(log));
      logs.push(log);
      report.sessions++;
      report.sessionIds.push(entry.name);
      report.messages += log.messages.size;
    }
    this.#state = "open";
    // Each file now holds exactly the state above, sealed with the current key (if any).
    await Promise.all(logs.map((log) => log.compact()));
    for (const repair of report.repairs) this.#logger.warn({ dir: this.#dir }, repair);
    return report;
  }

  async put(fence: Fence, messages: readonly StoredMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await (await this.#write(fence)).put(messages, this.#clock());
  }

  async patch(fence: Fence, patches: readonly MessagePatch[]): Promise<void> {
    if (patches.length === 0) return;
    await (await this.#write(fence)).patch(patches);
  }

  async get(sessionId: SessionId, messageId: string): Promise<StoredMessage | undefined> {
    return (await this.#read(sessionId))?.messages.get(messageId);
  }

  async chats(sessionId: SessionId, page: PageRequest): Promise<Page<ChatSummary>> {
    const log = await this.#read(sessionId);
    return chatsPage(log?.messages.values() ?? [], page);
  }

  async history(
    sessionId: SessionId,
    chat: string,
    page: HistoryRequest,
  ): Promise<Page<StoredMessage>> {
    const log = await this.#read(sessionId);
    return historyPage(
      log?.messages.values() ?? [],
      chat,
      page,
      (id) => log?.messages.get(id),
    );
  }

  async markRead(fence: Fence, chat: string, messageIds?: readonly string[]): Promise<number> {
    const log = await this.#write(fence);
    const wanted = messageIds ? new Set(messageIds) : null;
    const patches: MessagePatch[] = [];
    for (const message of log.messages.values()) {
      if (message.chat !== chat || message.fromMe || message.read) continue;
      if (wanted && !wanted.has(message.id)) continue;
      patches.push({ id: message.id, read: true });
    }
    await log.patch(patches);
    return patches.length;
  }

  async prune(now: Date): Promise<number> {
    this.#assertOpen();
    let removed = 0;
    for (const log of await Promise.all(this.#logs.values())) removed += await log.prune(now);
    return removed;
  }

  async deleteSession(fence: Fence): Promise<void> {
    this.#assertOpen();
    const id = this.#sessionOf(fence);
    const log = this.#logs.get(id);
    this.#logs.delete(id);
    await (await log)?.close();
    const dir = join(this.#dir, id);
    const trash = join(this.#dir, `${TRASH_PREFIX}${crypto.randomUUID()}`);
    try {
      await Deno.rename(dir, trash);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw new PersistenceError(`Could not delete the messages of ${id}`, { cause: error });
    }
    // Durable once renamed away: a crash before the removal finishes it on the next open.
    await syncDirectory(this.#dir);
    await Deno.remove(trash, { recursive: true });
  }

  async dump(sessionId: SessionId): Promise<SessionMessagesDump> {
    const log = await this.#read(sessionId);
    // The maps are in the order things were stored.
    return {
      messages: [...log?.messages.values() ?? []],
      idempotency: [...log?.idempotency.values() ?? []].sort((a, b) =>
        a.key < b.key ? -1 : a.key > b.key ? 1 : 0
      ),
    };
  }

  async flush(): Promise<void> {
    if (this.#state !== "open") return;
    await Promise.all([...this.#logs.values()].map(async (log) => (await log).flush()));
  }

  async close(): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "closed";
    await Promise.all([...this.#logs.values()].map(async (log) => (await log).close()));
  }

  async #claim(fence: Fence, record: NewIdempotencyRecord): Promise<IdempotencyRecord | null> {
    const log = await this.#write(fence);
    const existing = log.idempotency.get(record.key);
    if (existing && existing.createdAt + existing.expiresAfterMs > record.createdAt) {
      return existing;
    }
    await log.putIdempotency({ ...record, response: null });
    return null;
  }

  async #complete(fence: Fence, key: string, response: IdempotentResponse): Promise<void> {
    const log = await this.#write(fence);
    const existing = log.idempotency.get(key);
    if (!existing) return;
    await log.putIdempotency({ ...existing, response });
  }

  /** The session's log, created on its first write. */
  #write(fence: Fence): Promise<SessionMessageLog> {
    this.#assertOpen();
    const id = this.#sessionOf(fence);
    let log = this.#logs.get(id);
    if (!log) {
      log = this.#create(id);
      this.#logs.set(id, log);
      log.catch(() => this.#logs.delete(id));
    }
    return log;
  }

  async #read(sessionId: SessionId): Promise<SessionMessageLog | undefined> {
    this.#assertOpen();
    return await this.#logs.get(sessionId);
  }

  async #create(id: SessionId): Promise<SessionMessageLog> {
    const dir = join(this.#dir, id);
    await Deno.mkdir(dir, { mode: 0o700 }).catch((error) => {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    });
    await syncDirectory(this.#dir);
    const log = this.#newLog(id);
    await log.open(this.#opener(log.path), this.#clock());
    return log;
  }

  #newLog(id: SessionId): SessionMessageLog {
    return new SessionMessageLog({
      sessionId: id,
      dir: join(this.#dir, id),
      sealer: this.#sealer,
      retention: this.#retention,
    });
  }

  #opener(path: string): Opener {
    const sealer = this.#sealer;
    return (sealed, context) => {
      if (!sealer) throw sealedValueNeedsKey(path);
      try {
        return sealer.open(sealed, context);
      } catch {
        return null;
      }
    };
  }

  #sessionOf(fence: Fence): SessionId {
    // The id names a folder: nothing else may reach the file system.
    if (!isSessionId(fence.sessionId)) throw new ValidationError("Invalid session id");
    return fence.sessionId;
  }

  #assertOpen(): void {
    if (this.#state !== "open") throw new PersistenceError("The message store is not open");
  }
}

/**
 * Moves every message log's sealed bodies from one key to another, for a key rotation (the
 * gateway stopped): each log is rewritten atomically, bodies opened with `to` (already moved by
 * a rotation cut short) or `from` and sealed with `to`, or left as JSON without it. Lines that
 * are not JSON, and bodies neither key opens, are kept as they are; returns how many bodies.
 *
 * @example
 * ```ts
 * await resealMessageStore(dataDir, createValueSealer(oldKey), createValueSealer(newKey));
 * ```
 */
export async function resealMessageStore(
  dataDir: string,
  from: ValueSealer | undefined,
  to: ValueSealer | undefined,
): Promise<{ unreadable: number }> {
  const dir = join(dataDir, MESSAGE_STORE_DIR_NAME);
  let unreadable = 0;
  const entries = await Array.fromAsync(Deno.readDir(dir)).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  });
  for (const entry of entries) {
    if (!entry.isDirectory || !isSessionId(entry.name)) continue;
    await rewriteJsonlFile(join(dir, entry.name, MESSAGE_LOG_FILE_NAME), (record) => {
      const moved = resealLine(entry.name, record, from, to);
      if (moved === null) unreadable++;
      return moved ?? record;
    });
  }
  return { unreadable };
}
