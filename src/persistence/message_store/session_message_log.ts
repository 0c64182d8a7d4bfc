import type {
  IdempotencyRecord,
  MessagePatch,
  MessageRetention,
  StoredMessage,
} from "../../domain/message_store.ts";
import { JsonlLog, type JsonlLogLoad } from "../jsonl_log.ts";
import {
  encodeRecord,
  type MessageLogRecord,
  type Opener,
  recordSchema,
} from "./message_log_record.ts";
import type { ValueSealer } from "../sealed_value.ts";

/** The log file in each session's folder of the message store. */
export const MESSAGE_LOG_FILE_NAME = "messages.jsonl";

/** What a message costs against the per-session cap: its content plus its key and ids. */
export function storedSize(message: StoredMessage): number {
  const key = message.key;
  return message.content.byteLength + 64 + message.id.length + message.chat.length +
    (message.sender?.length ?? 0) + (message.pushName?.length ?? 0) + key.remoteJid.length +
    (key.participant?.length ?? 0) + (key.remoteJidAlt?.length ?? 0) +
    (key.participantAlt?.length ?? 0);
}

/**
 * One session's messages and idempotency records: all in memory, every change appended to the
 * session's log (group-committed, one fsync per batch) and the log compacted to the live state
 * when it has grown, so the file stays within a few times the cap.
 */
export class SessionMessageLog {
  readonly sessionId: string;
  readonly messages = new Map<string, StoredMessage>();
  readonly idempotency = new Map<string, IdempotencyRecord>();
  readonly #log: JsonlLog;
  readonly #sealer?: ValueSealer;
  readonly #retention: MessageRetention;
  #bytes = 0;

  constructor(
    options: {
      sessionId: string;
      dir: string;
      sealer?: ValueSealer;
      retention: MessageRetention;
    },
  ) {
    this.sessionId = options.sessionId;
    this.#sealer = options.sealer;
    this.#retention = options.retention;
    this.#log = new JsonlLog({
      dir: options.dir,
      name: MESSAGE_LOG_FILE_NAME,
      snapshot: () => this.#snapshot(),
      compactAfterBytes: Math.max(64 * 1024, options.retention.maxBytesPerSession),
    });
  }

  get path(): string {
    return this.#log.path;
  }

  /** The stored size of the session's messages. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Replays the log; the caller compacts once every log is loaded. */
  async open(open: Opener, now: Date): Promise<JsonlLogLoad<MessageLogRecord>> {
    const load = await this.#log.open(recordSchema(this.sessionId, open));
    for (const record of load.records) this.#apply(record);
    this.#enforce(now.getTime());
    return load;
  }

  /** Rewrites the log as the current state (no torn line, nothing dropped left). */
  compact(): Promise<void> {
    return this.#log.compact();
  }

  async put(messages: readonly StoredMessage[], now: Date): Promise<void> {
    // Already past the retention (old history): never stored.
    const oldest = now.getTime() - this.#retention.maxAgeMs;
    const records = messages.filter((message) => message.timestamp >= oldest).map((
      message,
    ) => ({ op: "put", id: message.id, message } as const));
    if (records.length === 0) return;
    for (const record of records) this.#apply(record);
    this.#enforceCap();
    await this.#append(records);
  }

  async patch(patches: readonly MessagePatch[]): Promise<void> {
    const records = patches.filter((patch) => this.messages.has(patch.id))
      .map((patch) => ({ op: "patch", id: patch.id, patch } as const));
    if (records.length === 0) return;
    for (const record of records) this.#apply(record);
    this.#enforceCap();
    await this.#append(records);
  }

  async putIdempotency(record: IdempotencyRecord): Promise<void> {
    this.idempotency.set(record.key, record);
    await this.#append([{ op: "idem", id: record.key, record }]);
  }

  async deleteIdempotency(key: string): Promise<void> {
    if (!this.idempotency.delete(key)) return;
    await this.#append([{ op: "idem-del", id: key }]);
  }

  /** Drops what the retention no longer allows; compacts the log when something went. */
  async prune(now: Date): Promise<number> {
    const removed = this.#enforce(now.getTime());
    if (removed.messages + removed.records > 0) await this.#log.compact();
    return removed.messages;
  }

  flush(): Promise<void> {
    return this.#log.flush();
  }

  close(): Promise<void> {
    return this.#log.close();
  }

  #append(records: readonly MessageLogRecord[]): Promise<void> {
    return this.#log.append(records.map((r) => encodeRecord(this.sessionId, r, this.#sealer)));
  }

  #apply(record: MessageLogRecord): void {
    switch (record.op) {
      case "put": {
        this.#remove(record.id);
        this.messages.set(record.id, record.message);
        this.#bytes += storedSize(record.message);
        return;
      }
      case "patch": {
        const current = this.messages.get(record.id);
        if (!current) return;
        const { id: _id, ...fields } = record.patch;
        const next = { ...current, ...definedFields(fields) };
        this.#bytes += storedSize(next) - storedSize(current);
        this.messages.set(record.id, next);
        return;
      }
      case "idem":
        this.idempotency.set(record.id, record.record);
        return;
      case "idem-del":
        this.idempotency.delete(record.id);
    }
  }

  #remove(id: string): void {
    const current = this.messages.get(id);
    if (!current) return;
    this.messages.delete(id);
    this.#bytes -= storedSize(current);
  }

  /** Age and size limits, and expired idempotency keys. */
  #enforce(now: number): { messages: number; records: number } {
    const oldest = now - this.#retention.maxAgeMs;
    let messages = 0;
    for (const message of [...this.messages.values()]) {
      if (message.timestamp < oldest) {
        this.#remove(message.id);
        messages++;
      }
    }
    messages += this.#enforceCap();
    let records = 0;
    for (const record of [...this.idempotency.values()]) {
      if (record.createdAt + record.expiresAfterMs <= now) {
        this.idempotency.delete(record.key);
        records++;
      }
    }
    return { messages, records };
  }

  #enforceCap(): number {
    // The map is in the order messages were stored: the earliest stored go first, without a sort.
    let removed = 0;
    while (this.#bytes > this.#retention.maxBytesPerSession && this.messages.size > 0) {
      this.#remove(this.messages.keys().next().value!);
      removed++;
    }
    return removed;
  }

  #snapshot(): unknown[] {
    const records: MessageLogRecord[] = [
      ...[...this.messages.values()].map((message) =>
        ({ op: "put", id: message.id, message }) as const
      ),
      ...[...this.idempotency.values()].map((record) =>
        ({ op: "idem", id: record.key, record }) as const
      ),
    ];
    return records.map((record) => encodeRecord(this.sessionId, record, this.#sealer));
  }
}

function definedFields<T extends object>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<
    T
  >;
}
