import type { SessionId } from "./session_id.ts";

/**
 * Proof that this node owns a session: the epoch of the session's lease as this node acquired it
 * (see `src/ownership/lease_lock.ts`). Every write a session's owner makes (its reported status,
 * its auth files, its messages) carries the fence, and a store shared by several nodes refuses the
 * write with `FencedOutError` once the lease has moved on to a higher epoch or another node. A
 * store only one process can open (the file store, behind its lock) owns every session itself
 * and accepts every fence.
 *
 * @example
 * ```ts
 * const fence: Fence = { sessionId: "shop-1", epoch: lease.epoch };
 * await store.auth(fence).write(changes); // throws FencedOutError after a takeover
 * ```
 */
export interface Fence {
  readonly sessionId: SessionId;
  /** The lease's epoch: increases by one on every acquisition, by any node. */
  readonly epoch: number;
}

/**
 * The fence of a store that only one process can open: it owns every session, so any epoch does
 * and this one stands for "the single owner".
 *
 * @example
 * ```ts
 * store.auth(singleOwnerFence(id));
 * ```
 */
export function singleOwnerFence(sessionId: SessionId): Fence {
  return { sessionId, epoch: 0 };
}
