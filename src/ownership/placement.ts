import type { SessionId } from "../domain/session_id.ts";
import type { LeaseRecord } from "./lease_lock.ts";
import type { NodeRecord } from "./node_registry.ts";

/** What one node sees of the cluster when it decides which sessions to take or give up. */
export interface ClusterView {
  /** This node's id. */
  self: string;
  /** Whether this node is draining (it then takes nothing and gives nothing up here). */
  selfDraining: boolean;
  /** Every session in the store. */
  sessions: readonly SessionId[];
  /** Every lease the lock knows of, by session. */
  leases: ReadonlyMap<SessionId, LeaseRecord>;
  /** Every registered node. */
  nodes: readonly NodeRecord[];
  /** The sessions this node holds (its own view, which is the truth for itself). */
  held: ReadonlySet<SessionId>;
  /** For each session this node has seen without a live owner: for how long (ms). */
  unownedForMs: ReadonlyMap<SessionId, number>;
}

export interface PlacementOptions {
  /**
   * How long a session may stay unowned before any node takes it, even one that is not the
   * least loaded (the one that should have taken it may be gone without the registry knowing yet).
   */
  claimGraceMs: number;
  /**
   * The most sessions a node gives up in one pass to even out the load, as a share of those it
   * holds (at least one; 0 turns evening out off): a node that joins gets its share within a few
   * passes, and moves never come as a storm.
   */
  moveShare: number;
}

/** What a node should do in one pass. */
export interface PlacementDecision {
  acquire: SessionId[];
  release: SessionId[];
}

/**
 * Decides which unowned sessions this node takes and which of its own it gives up, so that every
 * session gets an owner and the load evens out over time. Pure: every node computing it from the
 * same view reaches the same assignment, so nodes rarely race for one session (and when they do,
 * the lock lets only one win).
 *
 * - Each session without a live owner goes, in id order, to the live non-draining node with the
 *   fewest sessions (ties by node id); this node takes the ones that fall to it at once, and any
 *   other once it has been unowned for `claimGraceMs`.
 * - While nothing is unowned, a node holding at least two more sessions than the least loaded
 *   node gives up some of them (the least loaded node then takes them): half the difference at
 *   most, so it never overshoots, and `moveShare` of what it holds at most, so a pass moves few.
 *
 * @example
 * ```ts
 * const { acquire, release } = decidePlacement(view, { claimGraceMs: 10_000, moveShare: 0.1 });
 * ```
 */
export function decidePlacement(view: ClusterView, options: PlacementOptions): PlacementDecision {
  if (view.selfDraining) return { acquire: [], release: [] };

  const counts = new Map<string, number>();
  for (const node of view.nodes) {
    if (node.alive && !node.draining && node.id !== view.self) counts.set(node.id, 0);
  }
  counts.set(view.self, 0);
  const unowned: SessionId[] = [];
  for (const id of view.sessions) {
    if (view.held.has(id)) {
      counts.set(view.self, counts.get(view.self)! + 1);
      continue;
    }
    const lease = view.leases.get(id);
    const holder = lease && !lease.expired ? lease.holder : null;
    if (holder === null) {
      unowned.push(id);
    } else if (holder !== view.self && counts.has(holder)) {
      counts.set(holder, counts.get(holder)! + 1);
    }
    // Held by a draining or dead-looking node, or under our name but not by this process (a
    // previous run of this node that may still be alive): wait for its release or expiry.
  }

  const acquire: SessionId[] = [];
  for (const id of [...unowned].sort()) {
    const target = leastLoaded(counts);
    counts.set(target, counts.get(target)! + 1);
    if (target === view.self || (view.unownedForMs.get(id) ?? 0) >= options.claimGraceMs) {
      acquire.push(id);
    }
  }

  const release: SessionId[] = [];
  if (unowned.length === 0 && options.moveShare > 0) {
    const mine = counts.get(view.self)!;
    const fewest = counts.get(leastLoaded(counts))!;
    const perPass = Math.max(1, Math.floor(mine * options.moveShare));
    const surplus = Math.min(perPass, Math.floor((mine - fewest) / 2));
    if (mine - fewest >= 2 && surplus > 0) {
      release.push(...[...view.held].sort().slice(-surplus));
    }
  }
  return { acquire, release };
}

function leastLoaded(counts: ReadonlyMap<string, number>): string {
  let best: string | undefined;
  for (const [node, count] of counts) {
    if (
      best === undefined || count < counts.get(best)! ||
      (count === counts.get(best)! && node < best)
    ) best = node;
  }
  return best!;
}
