import type { SessionRecord, SessionStatus } from "./session.ts";
import type { SessionId } from "./session_id.ts";

/** One status change of a session, as kept in memory since the process started. */
export interface StatusChange {
  status: SessionStatus;
  previousStatus: SessionStatus | null;
  at: string;
  /** Why the connection ended, for changes that came with a disconnect. */
  reason: string | null;
}

/**
 * The latest status changes of every session (a few per session, in memory: a restart starts
 * them over), for operators asking "what happened to this session lately".
 *
 * @example
 * ```ts
 * const history = new StatusHistory(20);
 * history.record(record, "connecting");
 * history.of("shop-1"); // [{ status: "qr", previousStatus: "connecting", at, reason: null }]
 * ```
 */
export class StatusHistory {
  readonly #limit: number;
  readonly #changes = new Map<SessionId, StatusChange[]>();

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  /** Notes that `record` just changed to its status from `previousStatus`. */
  record(record: SessionRecord, previousStatus: SessionStatus | null, now: string): void {
    const changes = this.#changes.get(record.id) ?? [];
    const disconnect = record.lastDisconnect;
    const at = record.updatedAt ?? now;
    changes.push({
      status: record.status,
      previousStatus,
      at,
      // A disconnect recorded with this very change is its reason.
      reason: disconnect && disconnect.at === at ? disconnect.reason : null,
    });
    if (changes.length > this.#limit) changes.shift();
    this.#changes.set(record.id, changes);
  }

  /** The changes of one session, oldest first. */
  of(id: SessionId): StatusChange[] {
    return [...(this.#changes.get(id) ?? [])];
  }

  /** Drops a deleted session's changes. */
  forget(id: SessionId): void {
    this.#changes.delete(id);
  }
}
