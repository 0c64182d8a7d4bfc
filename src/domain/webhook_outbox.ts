/**
 * The durable queue of webhook deliveries. An event is in the outbox before any attempt to
 * deliver it, and leaves only once delivered (or, after its last failed attempt, for the dead
 * letters). Implementations: `src/persistence/file_webhook_outbox.ts` (two JSONL logs, one
 * process) and `src/persistence/postgres/postgres_webhook_outbox.ts` (tables shared by several
 * nodes). Contract, for every implementation (tested in `tests/support/webhook_outbox_contract.ts`):
 * - every method that resolves has made its change durable;
 * - every entry `claim` hands out carries the last failed-attempt count recorded for it
 *   (`recordFailedAttempts`), after a restart and on another node too, so that
 *   `WEBHOOK_MAX_ATTEMPTS` counts attempts across restarts and takeovers;
 * - an entry is in exactly one of pending or dead letters after any crash;
 * - entries of one queue (`queueKey`: endpoint and session) are handed out in `seq` order;
 * - one deliverer per queue: `claim` gives each queue with pending entries to one node at a time
 *   (a single-process outbox holds every queue), until that node releases it or stops renewing
 *   its claim for `ttlMs`; a claim that lapsed is taken by the next node that claims. A node that
 *   died with a queue claimed therefore delays it by at most the TTL, and its last attempt may be
 *   repeated by the next node (at least once: receivers deduplicate by `X-Webhook-Id`).
 */
export interface WebhookOutbox {
  /** Loads or checks what a previous run left. Must be called once, before anything else. */
  open(): Promise<OutboxLoadReport>;

  /**
   * Adds deliveries; gives each its `seq` (increasing in call order) and resolves with them once
   * they are durable. Queues of these entries that nobody holds are claimed for this node.
   */
  append(entries: readonly NewOutboxEntry[]): Promise<OutboxEntry[]>;

  /**
   * Claims, for `ttlMs`, every queue with pending entries that is unclaimed, lapsed or already
   * this node's (renewing those), and resolves with the pending entries of every queue this node
   * now holds, in `seq` order. A queue held before and not returned is held no more.
   */
  claim(ttlMs: number): Promise<OutboxEntry[]>;

  /** Gives up every queue this node holds, so that another node takes them at once. */
  release(): Promise<void>;

  /** Removes delivered entries; resolves once that is durable. Unknown ids are ignored. */
  remove(ids: readonly string[]): Promise<void>;

  /**
   * Records that a pending entry has now failed `attempts` times (its `attempts` from then on,
   * in what `claim` returns, here or after a reopen); durable on resolve. Unknown ids are ignored. The
   * deliverer calls it after each failed attempt that is not the last; an attempt cut short by
   * a crash is never recorded, so it is not counted.
   */
  recordFailedAttempts(id: string, attempts: number): Promise<void>;

  /** Moves a pending entry to the dead letters (its last attempt failed); durable on resolve. */
  deadLetter(entry: OutboxEntry, failure: DeliveryFailure): Promise<DeadLetter>;

  /** Every dead letter, oldest first. */
  deadLetters(): Promise<DeadLetter[]>;

  /** How many dead letters there are. */
  deadLetterCount(): Promise<number>;

  /**
   * Moves a dead letter back to the pending entries (a new `seq`, so it goes to the end of its
   * queue, and `generation + 1`); `undefined` for an unknown id.
   */
  requeue(id: string): Promise<OutboxEntry | undefined>;

  /** Deletes a dead letter for good; whether there was one. */
  discard(id: string): Promise<boolean>;

  /** Waits for every change accepted so far to be durable. */
  flush(): Promise<void>;

  /** Flushes and releases the outbox (and the queues this node holds). */
  close(): Promise<void>;
}

/** Where a delivery goes. The secret is kept so a delivery still signs after a config change. */
export interface WebhookEndpoint {
  /** `global` (configured in the environment) or `session` (in the session's metadata). */
  scope: "global" | "session";
  url: string;
  secret: string;
}

/** One event to be delivered to one endpoint. */
export interface NewOutboxEntry {
  /** `dlv_<uuid>`. */
  id: string;
  eventId: string;
  eventType: string;
  sessionId: string;
  endpoint: WebhookEndpoint;
  /** The exact JSON body, so that every attempt sends the same bytes. */
  body: string;
  /** ISO timestamp of when the event was queued. */
  createdAt: string;
}

/** An entry in the outbox. */
export interface OutboxEntry extends NewOutboxEntry {
  /** Position in the outbox: deliveries of one queue happen in `seq` order. */
  seq: number;
  /** How many times the entry came back from the dead letters. */
  generation: number;
  /** Failed attempts recorded so far: 0 when appended, and again when requeued. */
  attempts: number;
}

/** Why an entry stopped being retried. */
export interface DeliveryFailure {
  attempts: number;
  /** The last attempt's outcome: `HTTP 500`, `timeout after 10000 ms`, a network error… */
  lastError: string;
}

/** An entry whose every attempt failed. */
export interface DeadLetter extends DeliveryFailure {
  entry: OutboxEntry;
  /** ISO timestamp of when it was dead-lettered. */
  deadAt: string;
}

/** What `open` found. */
export interface OutboxLoadReport {
  pending: number;
  deadLetters: number;
  /** Problems found and repaired (a torn last line, unreadable lines kept aside). */
  repairs: string[];
}

/**
 * The key of the queue an entry belongs to: deliveries to one endpoint for one session are
 * ordered, and a failing one holds back the later ones of the same queue only.
 *
 * @example
 * ```ts
 * queueKey(entry); // "session https://example.com/hook shop-1"
 * ```
 */
export function queueKey(entry: Pick<NewOutboxEntry, "endpoint" | "sessionId">): string {
  return `${entry.endpoint.scope} ${entry.endpoint.url} ${entry.sessionId}`;
}

/**
 * The dead letter an entry becomes after its last failed attempt, at `at`.
 *
 * @example
 * ```ts
 * const letter = deadLetterOf(entry, { attempts: 10, lastError: "HTTP 500" }, new Date());
 * ```
 */
export function deadLetterOf(entry: OutboxEntry, failure: DeliveryFailure, at: Date): DeadLetter {
  return {
    entry,
    attempts: failure.attempts,
    lastError: failure.lastError,
    deadAt: at.toISOString(),
  };
}
