import type { Sql } from "postgres";
import { z } from "zod";
import type { EventRelay } from "../../domain/event_relay.ts";
import type { GatewayEvent } from "../../domain/events.ts";
import type { Logger } from "../../logger.ts";
import { PostgresListener } from "./postgres_listener.ts";
import { transaction } from "./transaction.ts";

/** The NOTIFY channel that says a node has written new events (payload: its origin id). */
export const EVENTS_CHANNEL = "wa_events";

/** How long events stay in the table: enough for a listener that reconnects to catch up. */
const KEEP_MS = 120_000;
/** How often a node sends what it queued (events are batched into one insert). */
const FLUSH_MS = 20;
/** How often a node reads anyway, in case a notification was lost, and removes its old rows. */
const SWEEP_MS = 5_000;

const EventRowSchema = z.object({
  origin: z.string(),
  seq: z.coerce.number().int(),
  body: z.string(),
});

/** The fields every event has; the rest is the event's own and is passed on as it came. */
const EventSchema = z.looseObject({
  id: z.string(),
  type: z.string(),
  sessionId: z.string(),
  at: z.string(),
});

/**
 * The live stream's events between nodes, through a table and NOTIFY (whose 8000-byte payload
 * could not hold a message event). Each process writes its events in batches under its own
 * `origin` (a new id per process) with increasing `seq`, commits, then notifies; a reader keeps,
 * per origin, the last `seq` it delivered, so nothing is delivered twice and, because one origin's
 * batches commit in order, nothing is skipped. A reader that reconnects reads what it missed
 * (within `KEEP_MS`); every `SWEEP_MS` it reads anyway and removes its own old rows.
 */
export class PostgresEventRelay implements EventRelay {
  readonly #sql: Sql;
  readonly #databaseUrl: string;
  readonly #node: string;
  readonly #logger: Logger;
  readonly #origin = crypto.randomUUID();
  readonly #queue: { seq: number; body: string }[] = [];
  readonly #lastSeen = new Map<string, number>();
  #seq = 0;
  #flushing: Promise<void> | null = null;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #listener: PostgresListener | undefined;
  #deliver: ((event: GatewayEvent) => void) | undefined;
  #reading: Promise<void> | null = null;
  #readAgain = false;
  #since = new Date();
  #closed = false;

  constructor(options: { sql: Sql; databaseUrl: string; node: string; logger: Logger }) {
    this.#sql = options.sql;
    this.#databaseUrl = options.databaseUrl;
    this.#node = options.node;
    this.#logger = options.logger;
  }

  send(event: GatewayEvent): void {
    if (this.#closed) return;
    this.#queue.push({ seq: ++this.#seq, body: JSON.stringify(event) });
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = undefined;
      void this.#flush();
    }, FLUSH_MS);
  }

  async start(deliver: (event: GatewayEvent) => void): Promise<void> {
    this.#deliver = deliver;
    const [{ now }] = await this.#sql<{ now: Date }[]>`SELECT now()`;
    this.#since = now;
    this.#listener = new PostgresListener({
      databaseUrl: this.#databaseUrl,
      channels: [EVENTS_CHANNEL],
      onNotify: (_channel, origin) => {
        if (origin !== this.#origin) this.#read();
      },
      onResync: () => this.#read(),
      logger: this.#logger,
    });
    await this.#listener.start();
    this.#sweepTimer = setInterval(() => {
      this.#read();
      this.#sql`
        DELETE FROM cluster_events
        WHERE origin = ${this.#origin} AND created_at < now() - ${KEEP_MS} * interval '1 millisecond'`
        .catch(() => {});
    }, SWEEP_MS);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#flushTimer);
    clearInterval(this.#sweepTimer);
    await this.#flush();
    await this.#listener?.close();
  }

  /** Writes what is queued in one insert (batches never overlap, so they commit in order). */
  #flush(): Promise<void> {
    if (this.#flushing) return this.#flushing.then(() => this.#flush());
    const batch = this.#queue.splice(0);
    if (batch.length === 0) return Promise.resolve();
    const rows = batch.map((entry) => ({ ...entry, origin: this.#origin, node: this.#node }));
    this.#flushing = transaction(this.#sql, async (tx) => {
      await tx`INSERT INTO cluster_events ${tx(rows, "origin", "seq", "node", "body")}`;
      await tx`SELECT pg_notify(${EVENTS_CHANNEL}, ${this.#origin})`;
    }).then(() => {}, (error) => {
      // Live only, like the stream itself: a batch the database refused is dropped.
      this.#logger.warn(
        { err: error, events: batch.length },
        "relaying events to other nodes failed",
      );
    }).finally(() => {
      this.#flushing = null;
    });
    return this.#flushing;
  }

  /** Reads every other origin's rows after the last seen (one read at a time, repeated if asked). */
  #read(): void {
    if (this.#reading) {
      this.#readAgain = true;
      return;
    }
    this.#reading = (async () => {
      do {
        this.#readAgain = false;
        await this.#readOnce().catch((error) => {
          this.#logger.debug({ err: error }, "reading other nodes' events failed");
        });
      } while (this.#readAgain && !this.#closed);
    })().finally(() => {
      this.#reading = null;
    });
  }

  async #readOnce(): Promise<void> {
    const seen = Object.fromEntries(this.#lastSeen);
    const rows = await this.#sql`
      SELECT origin, seq, body FROM cluster_events
      WHERE origin <> ${this.#origin}
        AND seq > COALESCE((${JSON.stringify(seen)}::jsonb ->> origin)::bigint, 0)
        AND (${JSON.stringify(seen)}::jsonb ? origin OR created_at >= ${this.#since})
      ORDER BY origin, seq`;
    for (const raw of rows) {
      const row = EventRowSchema.safeParse(raw);
      if (!row.success) continue;
      const { origin, seq, body } = row.data;
      if (seq <= (this.#lastSeen.get(origin) ?? 0)) continue;
      this.#lastSeen.set(origin, seq);
      const event = EventSchema.safeParse(safeJson(body));
      if (event.success) this.#deliver?.(event.data as unknown as GatewayEvent);
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
