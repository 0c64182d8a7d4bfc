import type { Sql } from "postgres";
import { PersistenceError } from "../../domain/errors.ts";
import {
  type DeadLetter,
  deadLetterOf,
  type DeliveryFailure,
  type NewOutboxEntry,
  type OutboxEntry,
  type OutboxLoadReport,
  queueKey,
  type WebhookOutbox,
} from "../../domain/webhook_outbox.ts";
import type { Logger } from "../../logger.ts";
import { deadLetterSchema, entrySchema, sealedEntry } from "../file_webhook_outbox.ts";
import type { ValueSealer } from "../sealed_value.ts";
import { migrate } from "./migrations.ts";
import { retryTransient } from "./transient_errors.ts";
import { transaction } from "./transaction.ts";

/** Options of {@linkcode PostgresWebhookOutbox}. */
export interface PostgresWebhookOutboxOptions {
  /** The client; the outbox does not end it. */
  sql: Sql;
  /** This node's id: the holder of the queues it claims. */
  nodeId: string;
  logger: Logger;
  clock?: () => Date;
  /** Seals each entry's endpoint secret and body, as the file outbox does. */
  sealer?: ValueSealer;
}

interface PendingAppend {
  entries: readonly NewOutboxEntry[];
  done: PromiseWithResolvers<OutboxEntry[]>;
}

/**
 * The outbox in three tables shared by every node (see `migrations.ts`): entries stored as the
 * file outbox stores them (sealed fields and all, validated with the same schema when read), a
 * claim per (endpoint, session) queue naming the node that delivers it until the claim lapses
 * (judged in the database's clock), and the dead letters. Moves between pending and dead
 * letters are single transactions.
 *
 * Appends of this node go through one queue, batched, so that `seq` order is commit order and a
 * claimer never sees an entry before an earlier one of the same queue.
 *
 * @example
 * ```ts
 * const outbox = new PostgresWebhookOutbox({ sql, nodeId: "node-a", logger });
 * await outbox.open();
 * const mine = await outbox.claim(30_000); // entries of the queues this node delivers
 * ```
 */
export class PostgresWebhookOutbox implements WebhookOutbox {
  readonly #sql: Sql;
  readonly #nodeId: string;
  readonly #logger: Logger;
  readonly #clock: () => Date;
  readonly #sealer?: ValueSealer;
  readonly #entrySchema: ReturnType<typeof entrySchema>;
  readonly #letterSchema: ReturnType<typeof deadLetterSchema>;
  #appends: PendingAppend[] = [];
  #appending: Promise<void> | null = null;
  #state: "new" | "open" | "closed" = "new";

  constructor(options: PostgresWebhookOutboxOptions) {
    this.#sql = options.sql;
    this.#nodeId = options.nodeId;
    this.#logger = options.logger;
    this.#clock = options.clock ?? (() => new Date());
    this.#sealer = options.sealer;
    this.#entrySchema = entrySchema((sealed, context) => {
      if (!this.#sealer) return null;
      try {
        return this.#sealer.open(sealed, context);
      } catch {
        return null;
      }
    });
    this.#letterSchema = deadLetterSchema(this.#entrySchema);
  }

  /** Applies the migrations and counts what is there; invalid rows are reported, never deleted. */
  async open(): Promise<OutboxLoadReport> {
    if (this.#state !== "new") throw new PersistenceError("The webhook outbox is already open");
    await migrate(this.#sql, this.#logger);
    const repairs: string[] = [];
    const pending = await this.#sql<{ seq: string; entry: unknown }[]>`
      SELECT seq, entry FROM webhook_outbox ORDER BY seq`;
    const invalidPending = pending.filter((row) => !this.#entryOf(row)).length;
    const dead = await this.#sql<{ letter: unknown }[]>`SELECT letter FROM webhook_dead_letters`;
    const invalidDead = dead.filter((row) => !this.#letterSchema.safeParse(row.letter).success)
      .length;
    if (invalidPending + invalidDead > 0) {
      repairs.push(
        `${invalidPending} pending and ${invalidDead} dead-lettered webhook row(s) are invalid ` +
          "(wrong key, or damaged): left in the database, not delivered",
      );
      for (const repair of repairs) this.#logger.error(repair);
    }
    this.#state = "open";
    return {
      pending: pending.length - invalidPending,
      deadLetters: dead.length - invalidDead,
      repairs,
    };
  }

  append(entries: readonly NewOutboxEntry[]): Promise<OutboxEntry[]> {
    this.#assertOpen();
    const done = Promise.withResolvers<OutboxEntry[]>();
    this.#appends.push({ entries, done });
    this.#appending ??= this.#drainAppends();
    return done.promise;
  }

  /** Writes the waiting appends, a batch per transaction, one transaction at a time. */
  async #drainAppends(): Promise<void> {
    while (this.#appends.length > 0) {
      const batch = this.#appends;
      this.#appends = [];
      try {
        const added = await this.#retry(
          "append",
          () =>
            transaction(this.#sql, async (tx) => {
              const results: OutboxEntry[][] = [];
              for (const append of batch) {
                const out: OutboxEntry[] = [];
                for (const entry of append.entries) {
                  const stored = sealedEntry(
                    { ...entry, seq: 0, generation: 0, attempts: 0 },
                    this.#sealer,
                  );
                  const [row] = await tx<{ seq: string }[]>`
                INSERT INTO webhook_outbox (id, queue_key, entry)
                VALUES (${entry.id}, ${queueKey(entry)}, ${storedJson(stored)})
                ON CONFLICT (id) DO UPDATE SET id = excluded.id
                RETURNING seq`;
                  out.push({ ...entry, seq: Number(row.seq), generation: 0, attempts: 0 });
                }
                results.push(out);
              }
              return results;
            }),
        );
        batch.forEach((append, index) => append.done.resolve(added[index]));
      } catch (error) {
        for (const append of batch) append.done.reject(error);
      }
    }
    this.#appending = null;
  }

  /**
   * One transaction: gives up this node's drained queues, claims every queue with pending entries
   * that is free, lapsed or already this node's, and reads the entries of the queues it holds.
   */
  async claim(ttlMs: number): Promise<OutboxEntry[]> {
    this.#assertOpen();
    const rows = await this.#retry("claim", () =>
      transaction(this.#sql, async (tx) => {
        // Only its own: the holder of a drained queue knows it has nothing of it left in hand.
        await tx`
        DELETE FROM webhook_queue_claims WHERE queue_key IN (
          SELECT c.queue_key FROM webhook_queue_claims c
          WHERE c.holder = ${this.#nodeId}
            AND NOT EXISTS (SELECT 1 FROM webhook_outbox o WHERE o.queue_key = c.queue_key)
          ORDER BY c.queue_key FOR UPDATE)`;
        await tx`
        INSERT INTO webhook_queue_claims AS c (queue_key, holder, expires_at)
        SELECT DISTINCT queue_key, ${this.#nodeId}, now() + ${ttlMs} * interval '1 millisecond'
        FROM webhook_outbox
        -- Every node locks claim rows in one order, so that concurrent claims never deadlock.
        ORDER BY queue_key
        ON CONFLICT (queue_key) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
        WHERE c.holder = excluded.holder OR c.expires_at <= now()`;
        return await tx<{ seq: string; entry: unknown }[]>`
        SELECT o.seq, o.entry FROM webhook_outbox o
        JOIN webhook_queue_claims c ON c.queue_key = o.queue_key
        WHERE c.holder = ${this.#nodeId} AND c.expires_at > now()
        ORDER BY o.seq`;
      }));
    const entries: OutboxEntry[] = [];
    for (const row of rows) {
      const entry = this.#entryOf(row);
      if (entry) entries.push(entry);
      else this.#logger.error({ seq: row.seq }, "invalid webhook outbox row skipped");
    }
    return entries;
  }

  async release(): Promise<void> {
    if (this.#state !== "open") return;
    await this.#sql`DELETE FROM webhook_queue_claims WHERE holder = ${this.#nodeId}`;
  }

  async remove(ids: readonly string[]): Promise<void> {
    this.#assertOpen();
    if (ids.length === 0) return;
    await this.#retry(
      "remove",
      () => this.#sql`DELETE FROM webhook_outbox WHERE id = ANY(${[...ids]}::text[])`,
    );
  }

  async recordFailedAttempts(id: string, attempts: number): Promise<void> {
    this.#assertOpen();
    // In the entry's JSON, beside its sealed fields (sealed per id and field, not over the whole).
    await this.#retry(
      "record attempts",
      () =>
        this.#sql`
        UPDATE webhook_outbox SET entry = jsonb_set(entry, '{attempts}', to_jsonb(${attempts}::int))
        WHERE id = ${id}`,
    );
  }

  async deadLetter(entry: OutboxEntry, failure: DeliveryFailure): Promise<DeadLetter> {
    this.#assertOpen();
    const letter = deadLetterOf(entry, failure, this.#clock());
    const stored = { ...letter, entry: sealedEntry(entry, this.#sealer) };
    await this.#retry("dead letter", () =>
      transaction(this.#sql, async (tx) => {
        const removed = await tx`DELETE FROM webhook_outbox WHERE id = ${entry.id} RETURNING id`;
        // Delivered (or dead-lettered) meanwhile by another node: nothing to move.
        if (removed.length === 0) return;
        await tx`
        INSERT INTO webhook_dead_letters (id, letter) VALUES (${entry.id}, ${storedJson(stored)})
        ON CONFLICT (id) DO UPDATE SET letter = excluded.letter`;
      }));
    return letter;
  }

  async deadLetters(): Promise<DeadLetter[]> {
    this.#assertOpen();
    const rows = await this.#sql<{ id: string; letter: unknown }[]>`
      SELECT id, letter FROM webhook_dead_letters ORDER BY seq`;
    const letters: DeadLetter[] = [];
    for (const row of rows) {
      const parsed = this.#letterSchema.safeParse(row.letter);
      if (parsed.success) letters.push(parsed.data);
      else this.#logger.error({ deadLetterId: row.id }, "invalid dead letter row skipped");
    }
    return letters;
  }

  async deadLetterCount(): Promise<number> {
    this.#assertOpen();
    const [row] = await this.#sql<{ count: string }[]>`
      SELECT count(*) AS count FROM webhook_dead_letters`;
    return Number(row.count);
  }

  async requeue(id: string): Promise<OutboxEntry | undefined> {
    this.#assertOpen();
    return await transaction(this.#sql, async (tx) => {
      const [row] = await tx<{ letter: unknown }[]>`
        DELETE FROM webhook_dead_letters WHERE id = ${id} RETURNING letter`;
      if (!row) return undefined;
      const parsed = this.#letterSchema.safeParse(row.letter);
      if (!parsed.success) throw new PersistenceError(`Dead letter '${id}' is invalid`);
      const entry = {
        ...parsed.data.entry,
        generation: parsed.data.entry.generation + 1,
        attempts: 0,
      };
      const [inserted] = await tx<{ seq: string }[]>`
        INSERT INTO webhook_outbox (id, queue_key, entry)
        VALUES (${id}, ${queueKey(entry)}, ${storedJson(sealedEntry(entry, this.#sealer))})
        RETURNING seq`;
      return { ...entry, seq: Number(inserted.seq) };
    });
  }

  async discard(id: string): Promise<boolean> {
    this.#assertOpen();
    const rows = await this.#sql`DELETE FROM webhook_dead_letters WHERE id = ${id} RETURNING id`;
    return rows.length > 0;
  }

  /** Every change resolves once committed; this waits for the appends still queued. */
  async flush(): Promise<void> {
    await this.#appending;
  }

  /** Waits for the appends, gives up this node's queues and closes. */
  async close(): Promise<void> {
    if (this.#state !== "open") return;
    await this.flush();
    await this.release().catch((error) => {
      this.#logger.warn(
        { err: error },
        "could not release webhook queues; they lapse by themselves",
      );
    });
    this.#state = "closed";
  }

  /** Repeats a write while the database restarts or a connection broke; each is idempotent. */
  #retry<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    return retryTransient(attempt, {
      logger: this.#logger,
      what: `webhook outbox ${what}`,
      sql: this.#sql,
    });
  }

  #entryOf(row: { seq: string; entry: unknown }): OutboxEntry | undefined {
    const parsed = this.#entrySchema.safeParse({
      ...(row.entry as object),
      seq: Number(row.seq),
    });
    return parsed.success ? parsed.data : undefined;
  }

  #assertOpen(): void {
    if (this.#state !== "open") throw new PersistenceError("The webhook outbox is not open");
  }
}

/** A value for a `jsonb` parameter (the client serialises it). */
function storedJson(value: unknown): never {
  return value as never;
}
