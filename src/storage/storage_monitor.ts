import type { StorageProblem } from "../domain/storage_health.ts";
import { backoffDelay, type BackoffOptions } from "../lib/backoff.ts";
import type { Logger } from "../logger.ts";

/** Options of {@linkcode StorageMonitor}. */
export interface StorageMonitorOptions {
  logger: Logger;
  /** Writes and syncs a little data where the store writes; rejects while the disk is full. */
  probe: () => Promise<void>;
  /** Writes what failed meanwhile, once the probe passes; rejects if that still fails. */
  catchUp: () => Promise<void>;
  /** How often the probe runs while the disk is full (default 0.5 s, doubling up to 10 s). */
  retry?: BackoffOptions;
  /** Told when writes start failing (`false`) and when they succeed again (`true`). */
  onChange?: (writable: boolean) => void;
  clock?: () => Date;
}

/**
 * Tracks whether the store can write: a write that fails for lack of space starts a "full"
 * episode (one error log line), during which a probe runs with backoff; once the probe passes
 * and what failed meanwhile is written, the episode ends (one more error log line, so that both
 * show wherever errors are collected). There is no event for "space was freed", so probing is
 * the only way to notice it.
 *
 * @example
 * ```ts
 * const monitor = new StorageMonitor({ logger, probe, catchUp });
 * monitor.reportNoSpace(error); // from a failed write
 * monitor.problem;              // { code: "insufficient_storage", since, message }
 * ```
 */
export class StorageMonitor {
  readonly #options: StorageMonitorOptions;
  readonly #retry: BackoffOptions;
  #problem: StorageProblem | null = null;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #checking = false;
  /** Whether a write failed for lack of space while a check ran (its catch-up is stale then). */
  #failedDuringCheck = false;
  #closed = false;

  constructor(options: StorageMonitorOptions) {
    this.#options = options;
    this.#retry = options.retry ?? { initialDelayMs: 500, maxDelayMs: 10_000 };
  }

  /** The problem while writes fail for lack of space, `null` while they succeed. */
  get problem(): StorageProblem | null {
    return this.#problem;
  }

  /** A write failed for lack of space: starts an episode, or continues the current one. */
  reportNoSpace(error: unknown): void {
    if (this.#checking) this.#failedDuringCheck = true;
    if (this.#problem || this.#closed) return;
    const since = (this.#options.clock?.() ?? new Date()).toISOString();
    this.#problem = {
      code: "insufficient_storage",
      since,
      message: "The disk holding the data directory is full: writes fail (HTTP 507) and auth " +
        "changes wait in memory until space is freed",
    };
    this.#options.logger.error(
      { err: error, since },
      "data directory disk full: writes fail until space is freed; retrying by itself",
    );
    this.#options.onChange?.(false);
    this.#schedule();
  }

  /** A write succeeded: during an episode, space may be back, so check now. */
  reportWriteSucceeded(): void {
    if (!this.#problem || this.#checking || this.#closed) return;
    clearTimeout(this.#timer);
    this.#check();
  }

  /** Stops probing (the store is closing). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#check(), backoffDelay(++this.#attempt, this.#retry));
  }

  async #check(): Promise<void> {
    if (this.#checking || this.#closed || !this.#problem) return;
    this.#checking = true;
    this.#failedDuringCheck = false;
    try {
      await this.#options.probe();
      await this.#options.catchUp();
    } catch {
      this.#failedDuringCheck = true;
    } finally {
      this.#checking = false;
    }
    if (this.#failedDuringCheck) {
      this.#schedule();
      return;
    }
    const since = this.#problem.since;
    this.#problem = null;
    this.#attempt = 0;
    const now = this.#options.clock?.() ?? new Date();
    this.#options.logger.error(
      { since, fullForMs: now.getTime() - Date.parse(since) },
      "data directory disk has space again: writes succeed",
    );
    this.#options.onChange?.(true);
  }
}
