/**
 * Counts of XEdDSA verifications by the implementation that decided them, in memory shared by
 * every thread (the connection workers count, the main thread's `/metrics` reads).
 */

/** Which implementation answered a verification. */
export const VERIFICATION_PATHS = ["node_crypto", "curve25519_js"] as const;
export type VerificationPath = (typeof VERIFICATION_PATHS)[number];

/**
 * Verification counts in a `SharedArrayBuffer`: create them once on the main thread, send
 * `buffer` to each worker in its settings, and wrap it there again.
 *
 * @example
 * ```ts
 * const counters = new VerificationCounters();
 * new VerificationCounters(counters.buffer).count("node_crypto"); // in a worker
 * counters.snapshot(); // { node_crypto: 1, curve25519_js: 0 }
 * ```
 */
export class VerificationCounters {
  readonly buffer: SharedArrayBuffer;
  readonly #cells: BigUint64Array;

  constructor(buffer = new SharedArrayBuffer(8 * VERIFICATION_PATHS.length)) {
    this.buffer = buffer;
    this.#cells = new BigUint64Array(buffer);
  }

  /** Adds one verification answered by `path`. */
  count(path: VerificationPath): void {
    Atomics.add(this.#cells, VERIFICATION_PATHS.indexOf(path), 1n);
  }

  /** The counts so far, over every thread that shares the buffer. */
  snapshot(): Record<VerificationPath, number> {
    const counts = {} as Record<VerificationPath, number>;
    VERIFICATION_PATHS.forEach((path, i) => {
      counts[path] = Number(Atomics.load(this.#cells, i));
    });
    return counts;
  }
}
