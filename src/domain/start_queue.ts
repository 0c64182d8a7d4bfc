import type { SessionId } from "./session_id.ts";

/** A start slot's work: opens the session and resolves once it has settled (or timed out). */
export type StartWork = () => Promise<void>;

/**
 * Starts sessions a bounded number at a time (`RESTORE_CONCURRENCY`): a restore or a takeover of
 * hundreds of sessions logs in a few at once instead of all together. Each job keeps its slot until
 * its session settles, so the next one starts only when a login has finished. Counts what it has
 * done since `beginBatch`, which is what `/ready` reports.
 *
 * @example
 * ```ts
 * const queue = new StartQueue(16);
 * queue.enqueue("shop-1", () => openAndSettle("shop-1"));
 * await queue.idle();
 * ```
 */
export class StartQueue {
  readonly #concurrency: number;
  readonly #waiting: Array<{ id: SessionId; work: StartWork }> = [];
  readonly #queued = new Set<SessionId>();
  readonly #idleWaiters = new Set<() => void>();
  #running = 0;
  #closed = false;
  #batch = { total: 0, settled: 0 };

  constructor(concurrency: number) {
    this.#concurrency = Math.max(1, concurrency);
  }

  /** Queues a start; a session already queued or starting is not queued twice. */
  enqueue(id: SessionId, work: StartWork): void {
    if (this.#closed || this.#queued.has(id)) return;
    this.#queued.add(id);
    this.#batch.total++;
    this.#waiting.push({ id, work });
    this.#pump();
  }

  /** Starts counting anew (readiness counts the starts of one batch, such as a restore). */
  beginBatch(): void {
    this.#batch = { total: this.#waiting.length + this.#running, settled: 0 };
  }

  /** Starts queued or running since `beginBatch`, and how many have settled. */
  get progress(): { total: number; settled: number } {
    return { ...this.#batch };
  }

  /** Resolves once nothing is queued or starting. */
  idle(): Promise<void> {
    if (this.#running === 0 && this.#waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.add(resolve));
  }

  /** Drops every start not begun yet; running ones finish. */
  close(): void {
    this.#closed = true;
    for (const { id } of this.#waiting.splice(0)) this.#queued.delete(id);
    this.#maybeIdle();
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.#waiting.length > 0) {
      const { id, work } = this.#waiting.shift()!;
      this.#running++;
      work().catch(() => {}).finally(() => {
        this.#running--;
        this.#queued.delete(id);
        this.#batch.settled++;
        this.#pump();
        this.#maybeIdle();
      });
    }
  }

  #maybeIdle(): void {
    if (this.#running > 0 || this.#waiting.length > 0) return;
    for (const wake of this.#idleWaiters) wake();
    this.#idleWaiters.clear();
  }
}
