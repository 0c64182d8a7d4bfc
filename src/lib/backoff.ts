/** Exponential backoff with jitter, capped: reconnects and webhook retries. */
export interface BackoffOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  /** Returns a number in [0, 1); injectable so tests are deterministic. */
  random?: () => number;
}

/**
 * The delay before reconnect attempt `attempt` (1-based): a random value between half and all of
 * `min(maxDelayMs, initialDelayMs * 2^(attempt-1))`. Keeping the lower half out avoids hammering
 * the server with near-zero delays, while the jitter spreads out sessions that dropped together.
 *
 * @example
 * ```ts
 * backoffDelay(3, { initialDelayMs: 1000, maxDelayMs: 60_000 }); // 2000..4000
 * ```
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const random = options.random ?? Math.random;
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30);
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** exponent);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
