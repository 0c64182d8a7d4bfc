import { backoffDelay, type BackoffOptions } from "../lib/backoff.ts";
import { errorMessage } from "../lib/error_message.ts";
import { withTimeout } from "../lib/timeout.ts";
import type { Logger } from "../logger.ts";
import {
  type DeadLetter,
  type OutboxEntry,
  queueKey,
  type WebhookOutbox,
} from "../domain/webhook_outbox.ts";
import { SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER } from "./webhook_signature.ts";
import { webhookHostProblem } from "../domain/webhook.ts";

/** Options of {@linkcode WebhookDeliverer}. */
export interface WebhookDelivererOptions {
  outbox: WebhookOutbox;
  logger: Logger;
  /** How long one POST may take before it counts as failed. */
  timeoutMs: number;
  /** Attempts before an entry goes to the dead letters (at least 1). */
  maxAttempts: number;
  /** Delay between attempts: exponential with jitter. */
  backoff: BackoffOptions;
  /** How many POSTs may be in flight at once, over every queue (default 64). */
  maxConcurrent?: number;
  /** Unix time in seconds, for the signature timestamp. */
  now?: () => number;
  /** Told the outcome of every POST (for metrics). */
  onAttempt?: (ok: boolean) => void;
  /**
   * The only hosts deliveries may go to (`WEBHOOK_ALLOWED_HOSTS`); empty allows any. An entry for
   * another host (queued before the list changed) is dead-lettered without a request.
   */
  allowedHosts?: readonly string[];
}

/** Counters since start, for logs, tests and benchmarks. */
export interface DeliveryStats {
  delivered: number;
  failedAttempts: number;
  deadLettered: number;
  /** Entries queued and not yet delivered or dead-lettered. */
  queued: number;
}

interface Queue {
  key: string;
  entries: OutboxEntry[];
  /** The head entry `attempts` counts for. */
  headId?: string;
  /** Failed attempts of the head entry, those recorded before a restart included. */
  attempts: number;
  running: boolean;
  retryTimer?: ReturnType<typeof setTimeout>;
  wake?: () => void;
}

/** What one POST came to. */
type AttemptResult =
  | { ok: true }
  /** `final`: retrying cannot help (the host is not allowed), dead-letter it now. */
  | { ok: false; error: string; retryAfterMs?: number; final?: boolean };

/**
 * Delivers the outbox's entries: one queue per (endpoint, session), each worked in `seq` order
 * with one POST at a time, so a failing delivery holds back the later ones of its queue only.
 * A POST succeeds on a 2xx within `timeoutMs`; anything else is retried after an exponential
 * backoff with jitter (or the receiver's `Retry-After` when that is longer), up to `maxAttempts`
 * counted across restarts (each failure is recorded in the outbox before the wait), then
 * dead-lettered and the queue moves on. A delivered entry is removed from the outbox at once.
 *
 * @example
 * ```ts
 * const deliverer = new WebhookDeliverer({ outbox, logger, timeoutMs: 10_000, maxAttempts: 10,
 *   backoff: { initialDelayMs: 1_000, maxDelayMs: 300_000 } });
 * deliverer.start(); // picks up what the outbox holds
 * deliverer.enqueue(await outbox.append(entries));
 * await deliverer.stop();
 * ```
 */
export class WebhookDeliverer {
  readonly #outbox: WebhookOutbox;
  readonly #logger: Logger;
  readonly #options: WebhookDelivererOptions;
  readonly #queues = new Map<string, Queue>();
  /** Ids queued (or in flight), so that an entry is never queued twice. */
  readonly #queued = new Set<string>();
  readonly #workers = new Set<Promise<void>>();
  readonly #inFlight = new Set<AbortController>();
  readonly #slotWaiters: (() => void)[] = [];
  readonly #maxConcurrent: number;
  readonly #now: () => number;
  #active = 0;
  #started = false;
  #stopped = false;
  readonly #stats = { delivered: 0, failedAttempts: 0, deadLettered: 0 };

  constructor(options: WebhookDelivererOptions) {
    this.#outbox = options.outbox;
    this.#logger = options.logger;
    this.#options = { ...options, maxAttempts: Math.max(1, options.maxAttempts) };
    this.#maxConcurrent = Math.max(1, options.maxConcurrent ?? 64);
    this.#now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /** Counters since start. */
  get stats(): DeliveryStats {
    return { ...this.#stats, queued: this.#queued.size };
  }

  /** Queues everything the outbox holds (left by an earlier run) and starts delivering. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const pending = this.#outbox.pending();
    if (pending.length > 0) {
      this.#logger.info({ pending: pending.length }, "delivering webhook events left pending");
    }
    this.enqueue(pending);
  }

  /** Queues entries that are durable in the outbox. Ids already queued are ignored. */
  enqueue(entries: readonly OutboxEntry[]): void {
    if (this.#stopped) return;
    for (const entry of entries) {
      if (this.#queued.has(entry.id)) continue;
      this.#queued.add(entry.id);
      const key = queueKey(entry);
      let queue = this.#queues.get(key);
      if (!queue) {
        queue = { key, entries: [], attempts: 0, running: false };
        this.#queues.set(key, queue);
      }
      insertBySeq(queue.entries, entry);
      this.#run(queue);
    }
  }

  /** Sends a dead letter back for delivery (at the end of its queue); `undefined` if unknown. */
  async retryDeadLetter(id: string): Promise<OutboxEntry | undefined> {
    const entry = await this.#outbox.requeue(id);
    if (entry) this.enqueue([entry]);
    return entry;
  }

  /**
   * Stops delivering: no new attempt starts, retry timers are cancelled, and POSTs in flight get
   * `graceMs` to finish (then they are aborted, and will be sent again after a restart). What is
   * left stays in the outbox.
   */
  async stop(graceMs = this.#options.timeoutMs): Promise<void> {
    this.#stopped = true;
    for (const queue of this.#queues.values()) {
      clearTimeout(queue.retryTimer);
      queue.wake?.();
    }
    for (const wake of this.#slotWaiters.splice(0)) wake();
    const all = Promise.allSettled([...this.#workers]);
    await withTimeout(all, graceMs, () => {
      for (const controller of this.#inFlight) controller.abort();
    });
    await all;
  }

  #run(queue: Queue): void {
    if (queue.running || this.#stopped) return;
    queue.running = true;
    let failed = false;
    const worker = this.#work(queue).catch((error) => {
      // The outbox could not record an outcome (a disk error): try again in a while.
      failed = true;
      this.#logger.error({ err: error, queue: queue.key }, "webhook queue failed");
    }).finally(() => {
      queue.running = false;
      this.#workers.delete(worker);
      if (queue.entries.length === 0) this.#queues.delete(queue.key);
      else if (this.#stopped) return;
      else if (failed) queue.retryTimer = setTimeout(() => this.#run(queue), 1_000);
      else this.#run(queue);
    });
    this.#workers.add(worker);
  }

  async #work(queue: Queue): Promise<void> {
    while (queue.entries.length > 0 && !this.#stopped) {
      const entry = queue.entries[0];
      if (queue.headId !== entry.id) {
        queue.headId = entry.id;
        queue.attempts = entry.attempts;
      }
      await this.#acquireSlot();
      if (this.#stopped) {
        this.#releaseSlot();
        return;
      }
      const refused = webhookHostProblem(entry.endpoint.url, this.#options.allowedHosts ?? []);
      let result: AttemptResult;
      try {
        result = refused
          ? { ok: false, error: refused, final: true }
          : await this.#attempt(entry, queue.attempts + 1);
      } finally {
        this.#releaseSlot();
      }
      this.#options.onAttempt?.(result.ok);
      if (result.ok) {
        this.#finish(queue, entry);
        this.#stats.delivered++;
        this.#outbox.remove([entry.id]).catch((error) => {
          this.#logger.error({ err: error, deliveryId: entry.id }, "outbox removal failed");
        });
        continue;
      }
      queue.attempts++;
      this.#stats.failedAttempts++;
      const log = { deliveryId: entry.id, eventId: entry.eventId, url: entry.endpoint.url };
      if (queue.attempts >= this.#options.maxAttempts || result.final) {
        const letter: DeadLetter = await this.#outbox.deadLetter(entry, {
          attempts: queue.attempts,
          lastError: result.error,
        });
        this.#logger.error(
          { ...log, attempts: letter.attempts, lastError: letter.lastError },
          "webhook delivery failed for good: dead-lettered",
        );
        this.#finish(queue, entry);
        this.#stats.deadLettered++;
        continue;
      }
      // Before the wait: a restart goes on counting from here (WEBHOOK_MAX_ATTEMPTS means it).
      await this.#outbox.recordFailedAttempts(entry.id, queue.attempts);
      // Retry-After is a floor under the backoff, capped like it.
      const delay = Math.max(
        backoffDelay(queue.attempts, this.#options.backoff),
        Math.min(result.retryAfterMs ?? 0, this.#options.backoff.maxDelayMs),
      );
      this.#logger.warn(
        { ...log, attempt: queue.attempts, error: result.error, retryInMs: delay },
        "webhook delivery failed; will retry",
      );
      await new Promise<void>((resolve) => {
        queue.wake = resolve;
        queue.retryTimer = setTimeout(resolve, delay);
      });
      queue.wake = undefined;
    }
  }

  #finish(queue: Queue, entry: OutboxEntry): void {
    queue.entries.shift();
    queue.headId = undefined;
    queue.attempts = 0;
    this.#queued.delete(entry.id);
  }

  async #attempt(entry: OutboxEntry, attempt: number): Promise<AttemptResult> {
    const timestamp = this.#now();
    const controller = new AbortController();
    this.#inFlight.add(controller);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.#options.timeoutMs);
    try {
      const response = await fetch(entry.endpoint.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "wa-gateway-webhooks/1",
          "x-webhook-id": entry.eventId,
          "x-webhook-delivery": entry.id,
          "x-webhook-event": entry.eventType,
          "x-webhook-session": entry.sessionId,
          "x-webhook-attempt": String(attempt),
          [TIMESTAMP_HEADER]: String(timestamp),
          [SIGNATURE_HEADER]: signWebhook(entry.endpoint.secret, timestamp, entry.body),
        },
        body: entry.body,
        redirect: "manual",
        signal: controller.signal,
      });
      // The body is of no interest, but must be consumed to free the connection.
      await response.body?.cancel().catch(() => {});
      if (response.status >= 200 && response.status < 300) return { ok: true };
      return {
        ok: false,
        error: `HTTP ${response.status}`,
        retryAfterMs: retryAfterMs(response.headers.get("retry-after")),
      };
    } catch (error) {
      if (timedOut) return { ok: false, error: `timeout after ${this.#options.timeoutMs} ms` };
      return { ok: false, error: errorMessage(error).slice(0, 300) };
    } finally {
      clearTimeout(timer);
      this.#inFlight.delete(controller);
    }
  }

  #acquireSlot(): Promise<void> {
    if (this.#active < this.#maxConcurrent || this.#stopped) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.#slotWaiters.push(() => {
        this.#active++;
        resolve();
      })
    );
  }

  #releaseSlot(): void {
    this.#active--;
    this.#slotWaiters.shift()?.();
  }
}

/** Inserts keeping `seq` order; entries nearly always arrive in order, so it scans from the end. */
function insertBySeq(entries: OutboxEntry[], entry: OutboxEntry): void {
  let index = entries.length;
  while (index > 0 && entries[index - 1].seq > entry.seq) index--;
  // Never in front of the head: it may be in flight.
  entries.splice(Math.max(index, entries.length > 0 ? 1 : 0), 0, entry);
}

function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
