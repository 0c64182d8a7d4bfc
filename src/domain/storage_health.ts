import type { SessionId } from "./session_id.ts";

/** Why the store cannot write right now (a full disk), as sessions and `/ready` report it. */
export interface StorageProblem {
  code: "insufficient_storage";
  message: string;
  /** When writes started failing (ISO 8601). */
  since: string;
}

/**
 * What the session manager learns of the store's health: whether writes fail for lack of space,
 * and how many of one session's auth file changes wait in memory to be written.
 */
export interface StorageHealth {
  /** The problem while writes fail, `null` while they succeed. */
  readonly problem: StorageProblem | null;
  /** Auth file changes of `id` not yet written (kept in memory, retried). */
  unwrittenAuthFiles(id: SessionId): number;
}
