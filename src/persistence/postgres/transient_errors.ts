import type { Sql } from "postgres";
import type { Logger } from "../../logger.ts";
import { renewDatabaseClient } from "./postgres_client.ts";

/**
 * Error codes of a connection that broke, a server that is restarting, or a transaction the server
 * chose to abort (deadlock, serialization): the transaction may be tried again whole. Anything
 * else (a constraint, a fence) is an answer, not an outage.
 */
const TRANSIENT = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, shutting down)
  "08000",
  "08003",
  "08006",
  "40001", // serialization_failure: the transaction is tried again whole
  "40P01", // deadlock_detected: likewise
  "55P03", // lock_not_available (lock_timeout): a row was locked a moment, by a takeover say
  "25P03", // idle_in_transaction_session_timeout: our own session ended while paused
]);

/**
 * Whether `error` means the database was unreachable for a moment rather than refusing.
 *
 * @example
 * ```ts
 * isTransientDatabaseError(Object.assign(new Error(), { code: "57P03" })); // true
 * ```
 */
export function isTransientDatabaseError(error: unknown): boolean {
  return TRANSIENT.has(String((error as { code?: unknown })?.code ?? ""));
}

/** Options of {@linkcode retryTransient}. */
export interface RetryTransientOptions {
  logger: Logger;
  /** What is being written, for the log. */
  what: string;
  /** How long to keep trying before the last error is passed on (default 30 s). */
  maxMs?: number;
  /** The client the write uses: renewed when a connection attempt timed out (see there). */
  sql?: Sql;
}

/**
 * Runs `attempt` and runs it again while it fails with a transient error (a server restart, a
 * dropped connection), backing off from 50 ms to 2 s, for up to `maxMs`: a write then resolves
 * once the database is back instead of failing. `attempt` must be safe to repeat: a commit whose
 * answer was lost may have happened (every store write is idempotent or checks what it finds).
 * The attempt number (from 1) is passed in.
 *
 * @example
 * ```ts
 * await retryTransient((attempt) => sql`UPDATE …`, { logger, what: "report" });
 * ```
 */
export async function retryTransient<T>(
  attempt: (attempt: number) => Promise<T>,
  options: RetryTransientOptions,
): Promise<T> {
  const deadline = Date.now() + (options.maxMs ?? 30_000);
  let delay = 50;
  for (let n = 1;; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (!isTransientDatabaseError(error) || Date.now() + delay > deadline) throw error;
      const code = (error as { code?: unknown }).code;
      if (code === "CONNECT_TIMEOUT" && options.sql) renewDatabaseClient(options.sql);
      if (n === 1) {
        options.logger.warn(
          { what: options.what, code },
          "database unavailable; retrying the write",
        );
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 2_000);
    }
  }
}
