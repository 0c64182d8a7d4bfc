/**
 * Serialises the commits of one resource (a file, a folder) and coalesces requests: every request
 * that arrives while a commit is in flight is served by the single next commit. A request's promise
 * settles with the first commit that starts after it, so it resolves only once the change made
 * before the request is durable, and rejects if that commit failed.
 *
 * The commit function reads the current state itself: callers change the in-memory state first,
 * then call `request()`. Whatever state the commit sees when it starts is what it writes.
 *
 * @example
 * ```ts
 * const records = new Map<string, string>();
 * const writer = new GroupCommit(() => writeFileAtomic(path, encode(records)));
 * records.set("a", "1");
 * await writer.request(); // "a" is on disk
 * ```
 */
export class GroupCommit {
  readonly #commit: () => Promise<void>;
  #next: PromiseWithResolvers<void> | null = null;
  #draining: Promise<void> | null = null;
  #commits = 0;

  constructor(commit: () => Promise<void>) {
    this.#commit = commit;
  }

  /** Asks for a commit; resolves once a commit that started after this call has succeeded. */
  request(): Promise<void> {
    this.#next ??= Promise.withResolvers<void>();
    const { promise } = this.#next;
    this.#draining ??= this.#drain();
    return promise;
  }

  /** Resolves once every commit requested so far has finished, whether it succeeded or not. */
  settled(): Promise<void> {
    return this.#draining ?? Promise.resolve();
  }

  /** How many commits have run (succeeded or failed). */
  get commits(): number {
    return this.#commits;
  }

  async #drain(): Promise<void> {
    // One microtask hop lets the requests made in the same tick share the first commit.
    await Promise.resolve();
    while (this.#next) {
      const batch = this.#next;
      this.#next = null;
      this.#commits++;
      try {
        await this.#commit();
        batch.resolve();
      } catch (error) {
        batch.reject(error);
      }
    }
    this.#draining = null;
  }
}
