/**
 * Serialises async work per key: calls for the same key run one after another, calls for
 * different keys run concurrently. Used so that lifecycle operations on one session (create,
 * start, stop, delete) never interleave.
 *
 * @example
 * ```ts
 * const locks = new KeyedLock();
 * await locks.run("shop-1", async () => { ... });
 * ```
 */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `work` once every earlier call for `key` has settled; returns its result. */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.catch(() => {});
    this.#tails.set(key, tail);
    tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Number of keys with work queued or running (for tests and metrics). */
  get size(): number {
    return this.#tails.size;
  }
}
