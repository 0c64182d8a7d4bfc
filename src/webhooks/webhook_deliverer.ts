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
  /** Told of every entry that went to the dead letters. */
  onDeadLettered?: () => void;
  /**
   * The only hosts deliveries may go to (`WEBHOOK_ALLOWED_HOSTS`); empty allows any. An entry for
   * another host (queued before the list changed) is dead-lettered without a request.
   */
  allowedHosts?: readonly string[];
  /**
   * How long this node's claim on a queue lasts unless renewed (default 30 s): after a node dies,
   * another takes its queues once this has passed.
   */
  claimTtlMs?: number;
  /** How often claims are renewed and queues of other nodes looked for (default 2 s). */
  claimIntervalMs?: number;
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
  /** The claim on it was lost (another node delivers it now): stop at the next entry. */
  lost?: boolean;
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
  readonly #claimTtlMs: number;
  readonly #claimIntervalMs: number;
  #claimTimer: ReturnType<typeof setTimeout> | undefined;
  #claiming: Promise<void> | null = null;
  #claimAgain = false;
  /**
   * Ids delivered or dead-lettered here, with the tick their removal was durable at (0 while in
   * flight): a claim that read the outbox before that must not queue them again.
   */
  readonly #done = new Map<string, number>();
  #tick = 0;
  readonly #stats = { delivered: 0, failedAttempts: 0, deadLettered: 0 };

  constructor(options: WebhookDelivererOptions) {
    this.#outbox = options.outbox;
    this.#logger = options.logger;
    this.#options = { ...options, maxAttempts: Math.max(1, options.maxAttempts) };
    this.#maxConcurrent = Math.max(1, options.maxConcurrent ?? 64);
    this.#now = options.now ?? (() => Math.floor(Date.now() / 1000));
    this.#claimTtlMs = options.claimTtlMs ?? 30_000;
    this.#claimIntervalMs = options.claimIntervalMs ??
      Math.max(10, Math.min(2_000, Math.floor(this.#claimTtlMs / 3)));
  }

  /** Counters since start. */
  get stats(): DeliveryStats {
    return { ...this.#stats, queued: this.#queued.size };
  }

  /**
   * Claims the queues this node may deliver (those left by an earlier run, or by a node that
   * died), queues their entries and starts delivering; then renews its claims and looks for
   * more every `claimIntervalMs`.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.#claim(true);
  }

  /**
   * Tells the deliverer that entries were appended: it claims at once, and delivers those whose
   * queue it then holds (the others are delivered by the node that holds their queue). Only
   * what a claim returns is delivered, so that no two nodes ever work one queue.
   */
  enqueue(_entries: readonly OutboxEntry[]): void {
    if (this.#stopped) return;
    this.#claimSoon();
  }

  #enqueueHeld(entries: readonly OutboxEntry[]): void {
    for (const entry of entries) {
      if (this.#queued.has(entry.id) || this.#done.has(entry.id)) continue;
      this.#queued.add(entry.id);
      const key = queueKey(entry);
      let queue = this.#queues.get(key);
      if (!queue || queue.lost) {
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
    if (entry) {
      this.#done.delete(id);
      this.enqueue([entry]);
    }
    return entry;
  }

  /**
   * Stops delivering: no new attempt starts, retry timers are cancelled, and POSTs in flight get
   * `graceMs` to finish (then they are aborted, and will be sent again after a restart). What is
   * left stays in the outbox.
   */
  async stop(graceMs = this.#options.timeoutMs): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#claimTimer);
    await this.#claiming?.catch(() => {});
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
      if (queue.lost) {
        for (const entry of queue.entries) this.#queued.delete(entry.id);
        queue.entries.length = 0;
      }
      if (queue.entries.length === 0) {
        if (this.#queues.get(queue.key) === queue) this.#queues.delete(queue.key);
      } else if (this.#stopped) return;
      else if (failed) queue.retryTimer = setTimeout(() => this.#run(queue), 1_000);
      else this.#run(queue);
    });
    this.#workers.add(worker);
  }

  /** Claims and queues what this node holds now; schedules the next claim. */
  #claim(first = false): Promise<void> {
    if (this.#claiming) {
      this.#claimAgain = true;
      return this.#claiming;
    }
    clearTimeout(this.#claimTimer);
    const startTick = this.#tick;
    this.#claiming = this.#outbox.claim(this.#claimTtlMs).then((entries) => {
      if (this.#stopped) return;
      if (first && entries.length > 0) {
        this.#logger.info({ pending: entries.length }, "delivering webhook events left pending");
      }
      const held = new Set(entries.map(queueKey));
      for (const queue of this.#queues.values()) {
        if (held.has(queue.key) || queue.entries.length === 0) continue;
        // Another node holds it now: drop what is queued here (it delivers them).
        queue.lost = true;
        for (const entry of queue.entries.slice(queue.running ? 1 : 0)) {
          this.#queued.delete(entry.id);
        }
        queue.entries.splice(queue.running ? 1 : 0);
        if (!queue.running) this.#queues.delete(queue.key);
      }
      this.#enqueueHeld(entries);
      // What was removed before this claim read the outbox cannot come back any more.
      for (const [id, tick] of this.#done) if (tick > 0 && tick <= startTick) this.#done.delete(id);
    }, (error) => {
      this.#logger.error({ err: error }, "claiming webhook queues failed; will retry");
    }).finally(() => {
      this.#claiming = null;
      if (this.#stopped) return;
      if (this.#claimAgain) {
        this.#claimAgain = false;
        void this.#claim();
      } else {
        this.#claimTimer = setTimeout(() => void this.#claim(), this.#claimIntervalMs);
      }
    });
    return this.#claiming;
  }

  /** Claims at once (an entry of a queue this node did not hold was appended). */
  #claimSoon(): void {
    void this.#claim();
  }

  /** Notes an entry whose removal from the pending entries is under way (`removed` settles it). */
  #markDone(id: string, removed: Promise<unknown>): void {
    this.#done.set(id, 0);
    removed.then(() => this.#done.set(id, ++this.#tick), () => {});
  }

  async #work(queue: Queue): Promise<void> {
    while (queue.entries.length > 0 && !this.#stopped && !queue.lost) {
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
        const removed = this.#outbox.remove([entry.id]);
        this.#markDone(entry.id, removed);
        this.#finish(queue, entry);
        this.#stats.delivered++;
        removed.catch((error) => {
          this.#logger.error({ err: error, deliveryId: entry.id }, "outbox removal failed");
        });
        continue;
      }
      queue.attempts++;
      this.#stats.failedAttempts++;
      const log = { deliveryId: entry.id, eventId: entry.eventId, url: entry.endpoint.url };
      if (queue.attempts >= this.#options.maxAttempts || result.final) {
        const moving = this.#outbox.deadLetter(entry, {
          attempts: queue.attempts,
          lastError: result.error,
        });
        this.#markDone(entry.id, moving);
        const letter: DeadLetter = await moving;
        this.#logger.error(
          { ...log, attempts: letter.attempts, lastError: letter.lastError },
          "webhook delivery failed for good: dead-lettered",
        );
        this.#finish(queue, entry);
        this.#stats.deadLettered++;
        this.#options.onDeadLettered?.();
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
