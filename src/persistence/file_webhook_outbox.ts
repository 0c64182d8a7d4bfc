import { join } from "node:path";
import { z } from "zod";
import { PersistenceError } from "../domain/errors.ts";
import {
  type DeadLetter,
  deadLetterOf,
  type DeliveryFailure,
  type NewOutboxEntry,
  type OutboxEntry,
  type OutboxLoadReport,
  type WebhookOutbox,
} from "../domain/webhook_outbox.ts";
import type { Logger } from "../logger.ts";
import { createDirectoryDurably, removeStaleTempFiles } from "./atomic_write.ts";
import {
  DEAD_LETTERS_FILE_NAME,
  OUTBOX_DIR_NAME,
  PENDING_OUTBOX_FILE_NAME,
} from "./data_dir_layout.ts";
import { JsonlLog, type JsonlLogLoad, rewriteJsonlFile } from "./jsonl_log.ts";
import { isSealed, resealValue, type ValueSealer } from "./sealed_value.ts";

const EndpointSchema = z.object({
  scope: z.enum(["global", "session"]),
  url: z.string().min(1),
  secret: z.string().min(1),
});

const EntrySchema = z.object({
  id: z.string().min(1),
  seq: z.number().int().nonnegative(),
  generation: z.number().int().nonnegative(),
  eventId: z.string().min(1),
  eventType: z.string().min(1),
  sessionId: z.string().min(1),
  endpoint: EndpointSchema,
  body: z.string(),
  createdAt: z.string(),
  // Absent in logs written before attempts were recorded.
  attempts: z.number().int().nonnegative().default(0),
});

/** What an entry's sealed fields are bound to: the entry, and which field. */
const sealContext = (id: string, field: "secret" | "body") => `webhook-outbox:${id}:${field}`;

/**
 * An entry as stored (here and in the database): its endpoint's secret and its body (message
 * texts) sealed.
 *
 * @example
 * ```ts
 * const stored = sealedEntry(entry, sealer);
 * ```
 */
export function sealedEntry(entry: OutboxEntry, sealer: ValueSealer | undefined): OutboxEntry {
  if (!sealer) return entry;
  return {
    ...entry,
    endpoint: {
      ...entry.endpoint,
      secret: sealer.seal(entry.endpoint.secret, sealContext(entry.id, "secret")),
    },
    body: sealer.seal(entry.body, sealContext(entry.id, "body")),
  };
}

/**
 * The schema of a stored entry, opening sealed fields with `open` (a line whose fields do not
 * open is invalid, and kept aside with the log's copy like any other invalid line).
 *
 * @example
 * ```ts
 * const schema = entrySchema((sealed, context) => sealer.open(sealed, context));
 * ```
 */
export function entrySchema(open: (sealed: string, context: string) => string | null) {
  return EntrySchema.transform((entry, ctx) => {
    const fields = { secret: entry.endpoint.secret, body: entry.body };
    for (const field of ["secret", "body"] as const) {
      if (!isSealed(fields[field])) continue;
      const opened = open(fields[field], sealContext(entry.id, field));
      if (opened === null) {
        ctx.addIssue({ code: "custom", message: `${field} does not decrypt with the key` });
        return z.NEVER;
      }
      fields[field] = opened;
    }
    return { ...entry, endpoint: { ...entry.endpoint, secret: fields.secret }, body: fields.body };
  });
}

/**
 * The schema of a stored dead letter, its entry checked with `entry`.
 *
 * @example
 * ```ts
 * const letter = deadLetterSchema(entrySchema(open)).parse(value);
 * ```
 */
export function deadLetterSchema(entry: ReturnType<typeof entrySchema>) {
  return z.object({
    entry,
    attempts: z.number().int().nonnegative(),
    lastError: z.string(),
    deadAt: z.string(),
  });
}

/** Lines of `pending.jsonl`. */
function pendingRecordSchema(entry: ReturnType<typeof entrySchema>) {
  return z.discriminatedUnion("op", [
    z.object({ op: z.literal("add"), entry }),
    z.object({ op: z.literal("done"), id: z.string() }),
    z.object({
      op: z.literal("attempts"),
      id: z.string(),
      attempts: z.number().int().nonnegative(),
    }),
  ]);
}

/** Lines of `dead-letters.jsonl`. */
function deadRecordSchema(entry: ReturnType<typeof entrySchema>) {
  return z.discriminatedUnion("op", [
    z.object({ op: z.literal("dead"), letter: deadLetterSchema(entry) }),
    z.object({ op: z.literal("discard"), id: z.string() }),
  ]);
}

/** Options of {@linkcode FileWebhookOutbox}. */
export interface FileWebhookOutboxOptions {
  /** The (locked) data directory; the outbox lives in its `.webhook-outbox/` folder. */
  dataDir: string;
  logger: Logger;
  clock?: () => Date;
  /** Compaction threshold of each log, in bytes (see `JsonlLog`). */
  compactAfterBytes?: number;
  /**
   * Seals each entry's endpoint secret and body (set with an encryption key). Without it they
   * are stored as they are, and sealed entries cannot be read.
   */
  sealer?: ValueSealer;
}

/**
 * The outbox as two append-only JSONL logs in `<dataDir>/.webhook-outbox/`:
 *
 * - `pending.jsonl`: `{"op":"add","entry":…}` when an event is queued, `{"op":"attempts","id":…,
 *   "attempts":n}` after a failed attempt, `{"op":"done","id":…}` when it was delivered or
 *   dead-lettered;
 * - `dead-letters.jsonl`: `{"op":"dead","letter":…}` and `{"op":"discard","id":…}`.
 *
 * Appends are group-committed (one fsync per batch); each log is compacted to the live entries
 * when it has grown, and on open. An entry moves between the two logs in an order that survives a
 * crash at any point: it is written to the destination first and removed from the source after,
 * and if both hold it on open, the higher `generation` wins (a dead letter keeps the generation it
 * had; a requeued entry gets the next one).
 *
 * @example
 * ```ts
 * const outbox = new FileWebhookOutbox({ dataDir, logger });
 * await outbox.open();
 * const [entry] = await outbox.append([newEntry]);
 * await outbox.remove([entry.id]); // delivered
 * await outbox.close();
 * ```
 */
export class FileWebhookOutbox implements WebhookOutbox {
  readonly #dir: string;
  readonly #logger: Logger;
  readonly #clock: () => Date;
  readonly #pending = new Map<string, OutboxEntry>();
  readonly #dead = new Map<string, DeadLetter>();
  readonly #pendingLog: JsonlLog;
  readonly #deadLog: JsonlLog;
  readonly #sealer?: ValueSealer;
  #seq = 0;
  #state: "new" | "open" | "closed" = "new";

  constructor(options: FileWebhookOutboxOptions) {
    this.#dir = join(options.dataDir, OUTBOX_DIR_NAME);
    this.#logger = options.logger;
    this.#clock = options.clock ?? (() => new Date());
    this.#sealer = options.sealer;
    const common = {
      dir: this.#dir,
      clock: this.#clock,
      compactAfterBytes: options.compactAfterBytes,
    };
    this.#pendingLog = new JsonlLog({
      ...common,
      name: PENDING_OUTBOX_FILE_NAME,
      snapshot: () => [...this.#pending.values()].map((entry) => this.#addRecord(entry)),
    });
    this.#deadLog = new JsonlLog({
      ...common,
      name: DEAD_LETTERS_FILE_NAME,
      snapshot: () => [...this.#dead.values()].map((letter) => this.#deadRecord(letter)),
    });
  }

  async open(): Promise<OutboxLoadReport> {
    if (this.#state !== "new") throw new PersistenceError("The webhook outbox is already open");
    await createDirectoryDurably(this.#dir, { mode: 0o700 });
    await removeStaleTempFiles(this.#dir);
    const repairs: string[] = [];

    const entry = entrySchema((sealed, context) => {
      if (!this.#sealer) return null;
      try {
        return this.#sealer.open(sealed, context);
      } catch {
        return null;
      }
    });
    const pendingLoad = await this.#pendingLog.open(pendingRecordSchema(entry));
    noteRepairs(pendingLoad, this.#pendingLog.path, repairs);
    for (const record of pendingLoad.records) {
      if (record.op === "add") this.#pending.set(record.entry.id, record.entry);
      else if (record.op === "done") this.#pending.delete(record.id);
      else {
        const entry = this.#pending.get(record.id);
        if (entry) this.#pending.set(record.id, { ...entry, attempts: record.attempts });
      }
    }
    const deadLoad = await this.#deadLog.open(deadRecordSchema(entry));
    noteRepairs(deadLoad, this.#deadLog.path, repairs);
    for (const record of deadLoad.records) {
      if (record.op === "dead") this.#dead.set(record.letter.entry.id, record.letter);
      else this.#dead.delete(record.id);
    }
    // An entry caught between the two logs by a crash: the later move wins.
    for (const [id, letter] of this.#dead) {
      const entry = this.#pending.get(id);
      if (!entry) continue;
      if (entry.generation > letter.entry.generation) this.#dead.delete(id);
      else this.#pending.delete(id);
    }
    const sorted = [...this.#pending.values()].sort((a, b) => a.seq - b.seq);
    this.#pending.clear();
    for (const entry of sorted) this.#pending.set(entry.id, entry);
    for (const entry of this.#allEntries()) this.#seq = Math.max(this.#seq, entry.seq);

    this.#state = "open";
    // Both files now hold exactly the state above: no torn line, nothing delivered.
    await Promise.all([this.#pendingLog.compact(), this.#deadLog.compact()]);
    for (const repair of repairs) this.#logger.warn({ dir: this.#dir }, repair);
    return { pending: this.#pending.size, deadLetters: this.#dead.size, repairs };
  }

  async append(entries: readonly NewOutboxEntry[]): Promise<OutboxEntry[]> {
    this.#assertOpen();
    const added = entries.map((entry) => ({
      ...entry,
      seq: ++this.#seq,
      generation: 0,
      attempts: 0,
    }));
    for (const entry of added) this.#pending.set(entry.id, entry);
    await this.#pendingLog.append(added.map((entry) => this.#addRecord(entry)));
    return added;
  }

  async remove(ids: readonly string[]): Promise<void> {
    this.#assertOpen();
    const removed = ids.filter((id) => this.#pending.delete(id));
    if (removed.length === 0) return;
    await this.#pendingLog.append(removed.map((id) => ({ op: "done", id })));
  }

  async recordFailedAttempts(id: string, attempts: number): Promise<void> {
    this.#assertOpen();
    const entry = this.#pending.get(id);
    if (!entry) return;
    this.#pending.set(id, { ...entry, attempts });
    await this.#pendingLog.append([{ op: "attempts", id, attempts }]);
  }

  async deadLetter(entry: OutboxEntry, failure: DeliveryFailure): Promise<DeadLetter> {
    this.#assertOpen();
    const letter = deadLetterOf(entry, failure, this.#clock());
    this.#dead.set(entry.id, letter);
    await this.#deadLog.append([this.#deadRecord(letter)]);
    // Only now may it leave the pending log (a compaction in between would otherwise drop it).
    await this.remove([entry.id]);
    return letter;
  }

  /** Every entry waiting for delivery, in `seq` order (synchronously: they are in memory). */
  pending(): OutboxEntry[] {
    return [...this.#pending.values()];
  }

  /** One process holds every queue: every pending entry is this node's. */
  claim(_ttlMs: number): Promise<OutboxEntry[]> {
    this.#assertOpen();
    return Promise.resolve(this.pending());
  }

  /** Nothing to give up: no other node can take the queues of a locked data directory. */
  release(): Promise<void> {
    return Promise.resolve();
  }

  deadLetters(): Promise<DeadLetter[]> {
    return Promise.resolve(this.deadLettersNow());
  }

  /** Every dead letter, oldest first (synchronously: they are in memory). */
  deadLettersNow(): DeadLetter[] {
    return [...this.#dead.values()];
  }

  deadLetterCount(): Promise<number> {
    return Promise.resolve(this.#dead.size);
  }

  async requeue(id: string): Promise<OutboxEntry | undefined> {
    this.#assertOpen();
    const letter = this.#dead.get(id);
    if (!letter) return undefined;
    const entry: OutboxEntry = {
      ...letter.entry,
      seq: ++this.#seq,
      generation: letter.entry.generation + 1,
      attempts: 0,
    };
    this.#pending.set(id, entry);
    await this.#pendingLog.append([this.#addRecord(entry)]);
    await this.discard(id);
    return entry;
  }

  async discard(id: string): Promise<boolean> {
    this.#assertOpen();
    if (!this.#dead.delete(id)) return false;
    await this.#deadLog.append([{ op: "discard", id }]);
    return true;
  }

  async flush(): Promise<void> {
    if (this.#state !== "open") return;
    await Promise.all([this.#pendingLog.flush(), this.#deadLog.flush()]);
  }

  async close(): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "closed";
    await Promise.all([this.#pendingLog.close(), this.#deadLog.close()]);
  }

  #addRecord(entry: OutboxEntry) {
    return { op: "add", entry: sealedEntry(entry, this.#sealer) };
  }

  #deadRecord(letter: DeadLetter) {
    return { op: "dead", letter: { ...letter, entry: sealedEntry(letter.entry, this.#sealer) } };
  }

  *#allEntries(): Iterable<OutboxEntry> {
    yield* this.#pending.values();
    for (const letter of this.#dead.values()) yield letter.entry;
  }

  #assertOpen(): void {
    if (this.#state !== "open") throw new PersistenceError("The webhook outbox is not open");
  }
}

/**
 * Moves the outbox's sealed fields from one key to another, for a key rotation (the gateway
 * stopped): every line of both logs is rewritten atomically, fields opened with `to` (already
 * moved by a rotation that was cut short) or `from` and sealed with `to`, or left plaintext
 * without it. Lines that are not JSON, and fields neither key opens, are kept as they are (the
 * next open skips them and keeps a copy); returns how many fields that was.
 *
 * @example
 * ```ts
 * await resealOutbox(dataDir, createValueSealer(oldKey), createValueSealer(newKey));
 * ```
 */
export async function resealOutbox(
  dataDir: string,
  from: ValueSealer | undefined,
  to: ValueSealer | undefined,
): Promise<{ unreadable: number }> {
  let unreadable = 0;
  const reseal = (entry: Record<string, unknown>) => {
    const id = String(entry.id);
    const endpoint = (entry.endpoint ?? {}) as Record<string, unknown>;
    const move = (value: unknown, field: "secret" | "body") => {
      if (typeof value !== "string") return value;
      const moved = resealValue(value, sealContext(id, field), from, to);
      if (moved === null) unreadable++;
      return moved ?? value;
    };
    return {
      ...entry,
      endpoint: { ...endpoint, secret: move(endpoint.secret, "secret") },
      body: move(entry.body, "body"),
    };
  };
  for (const name of [PENDING_OUTBOX_FILE_NAME, DEAD_LETTERS_FILE_NAME]) {
    await rewriteJsonlFile(join(dataDir, OUTBOX_DIR_NAME, name), (record) => {
      if (record.op === "add" && record.entry) {
        return { ...record, entry: reseal(record.entry as Record<string, unknown>) };
      }
      const letter = record.letter as Record<string, unknown> | undefined;
      if (record.op === "dead" && letter?.entry) {
        const entry = reseal(letter.entry as Record<string, unknown>);
        return { ...record, letter: { ...letter, entry } };
      }
      return record;
    });
  }
  return { unreadable };
}

function noteRepairs(load: JsonlLogLoad<unknown>, path: string, repairs: string[]): void {
  if (load.tornTail) repairs.push(`${path}: dropped an incomplete last line (interrupted write)`);
  if (load.invalidLines > 0) {
    repairs.push(
      `${path}: ${load.invalidLines} unreadable or invalid line(s) skipped; the file was kept ` +
        `as ${load.corruptCopy}`,
    );
  }
}
