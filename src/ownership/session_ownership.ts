import type { Fence } from "../domain/fence.ts";
import type { SessionId } from "../domain/session_id.ts";
import type { Logger } from "../logger.ts";
import type { Lease, LeaseLock, LeaseRecord } from "./lease_lock.ts";
import type { NodeRegistry } from "./node_registry.ts";
import { decidePlacement } from "./placement.ts";

/** Why this node stopped running a session. */
export type LossReason =
  /** A renewal found the lease gone (expired and taken, or released by an operator). */
  | "lease_lost"
  /** A write of the session was refused under its epoch: another node owns it now. */
  | "fenced"
  /** Renewals were not confirmed in time: the node stopped it before the lease could lapse. */
  | "self_fenced"
  /** Given up to even out the load; the least loaded node takes it. */
  | "rebalanced"
  /** The node is shutting down (its leases are released right after). */
  | "shutdown";

/** What the ownership loop drives: the sessions' sockets on this node. */
export interface OwnershipListener {
  /** This node now owns the session under `lease`: run it. Must not throw or block the loop. */
  onAcquired(lease: Lease): void;
  /**
   * This node no longer owns the session (or is about to give it up): close its socket at once,
   * without logging out, and stop writing for it. Resolves once closed.
   */
  onLost(sessionId: SessionId, reason: LossReason): Promise<void>;
}

export interface SessionOwnershipOptions {
  lock: LeaseLock;
  registry: NodeRegistry;
  /** This node, as the registry shows it to the others. */
  node: { id: string; url: string };
  /** Every session in the store (owned or not). */
  sessions: () => Promise<SessionId[]>;
  listener: OwnershipListener;
  logger: Logger;
  /** How long a lease lasts unless renewed (`LEASE_TTL_MS`). */
  ttlMs: number;
  /** Time between passes (heartbeat, renew, placement). Defaults to a quarter of the TTL. */
  renewIntervalMs?: number;
  /** How long before its lease could lapse a session whose renewal is unconfirmed is stopped. */
  selfFenceMarginMs?: number;
  /** How long an unowned session waits for the least loaded node before any node takes it. */
  claimGraceMs?: number;
  /** The share of its sessions one pass gives up at most to even out the load (default 0.1). */
  moveShare?: number;
  /** A monotonic clock in ms (self-fencing never trusts the wall clock). */
  now?: () => number;
  /** Called with the outcome of every pass (metrics). */
  onPass?: (outcome: PassOutcome) => void;
  /** Called after this node released leases (drain, rebalance): others may take them now. */
  onReleased?: () => void;
}

/** What one pass did. */
export interface PassOutcome {
  acquired: number;
  lost: number;
  released: number;
  failed: boolean;
}

/**
 * A tenth of a node's sessions per pass: a node that joins three holding 300 has its share in
 * about ten passes (under a minute by default), each pass a few logins on the node taking them.
 */
const MOVE_SHARE = 0.1;

interface HeldLease {
  lease: Lease;
  /** Monotonic time until which the lease is surely ours: when the confirming call was sent + TTL. */
  confirmedUntil: number;
}

/**
 * The ownership loop of one node over every session, in the shape of client-go's leader election
 * (acquire → run → renew → stop) but per session and fenced. Each pass heartbeats the node,
 * renews the leases it holds (in one call), hands lost ones to `onLost`, and takes or gives up
 * sessions as `decidePlacement` says. A watchdog on the monotonic clock stops every session whose
 * lease could lapse before a renewal is confirmed (self-fencing), so that when another node may
 * acquire a session, no socket of it is open here.
 *
 * What it does not guarantee by itself: that no write of a lost session lands. That is the
 * store's part: every write carries the session's `Fence` (`fenceOf`) and is refused under a stale
 * epoch, and the writer then reports it through `lost(id, "fenced")`.
 *
 * @example
 * ```ts
 * const ownership = new SessionOwnership({ lock, registry, node, sessions, listener, logger, ttlMs: 20_000 });
 * await ownership.start();           // first pass done: every unowned session it should take is taken
 * ownership.fenceOf("shop-1");       // { sessionId: "shop-1", epoch: 7 } while held
 * await ownership.stop();            // sockets closed, leases released, node gone from the registry
 * ```
 */
export class SessionOwnership {
  readonly #options: SessionOwnershipOptions;
  readonly #lock: LeaseLock;
  readonly #ttlMs: number;
  readonly #renewIntervalMs: number;
  readonly #selfFenceMarginMs: number;
  readonly #claimGraceMs: number;
  readonly #moveShare: number;
  readonly #now: () => number;
  readonly #logger: Logger;

  readonly #held = new Map<SessionId, HeldLease>();
  /** When this node first saw each session without a live owner (monotonic ms). */
  readonly #unownedSince = new Map<SessionId, number>();
  #passing: Promise<void> | null = null;
  #passAgain = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #running = false;
  #draining = false;
  #lastPassFailed = false;

  constructor(options: SessionOwnershipOptions) {
    this.#options = options;
    this.#lock = options.lock;
    this.#ttlMs = options.ttlMs;
    this.#renewIntervalMs = options.renewIntervalMs ?? Math.max(1, Math.floor(options.ttlMs / 4));
    this.#selfFenceMarginMs = options.selfFenceMarginMs ??
      Math.min(Math.floor(options.ttlMs / 4), 3_000);
    this.#claimGraceMs = options.claimGraceMs ?? 2 * this.#renewIntervalMs;
    this.#moveShare = options.moveShare ?? MOVE_SHARE;
    this.#now = options.now ?? (() => performance.now());
    this.#logger = options.logger;
    if (this.#renewIntervalMs + this.#selfFenceMarginMs >= this.#ttlMs) {
      throw new RangeError("the renew interval plus the self-fence margin must be under the TTL");
    }
  }

  /** This node's id. */
  get identity(): string {
    return this.#lock.identity;
  }

  /** Runs a first pass, then keeps passing every renew interval until `stop`. */
  async start(): Promise<void> {
    if (this.#running) throw new Error("SessionOwnership.start() called twice");
    this.#running = true;
    await this.pass();
    this.#schedule();
    const period = Math.max(50, Math.min(1_000, Math.floor(this.#selfFenceMarginMs / 3)));
    this.#watchdog = setInterval(() => this.checkSelfFence(), period);
  }

  /** The fence for a session's writes while this node holds it. */
  fenceOf(id: SessionId): Fence | undefined {
    const held = this.#held.get(id);
    return held ? { sessionId: id, epoch: held.lease.epoch } : undefined;
  }

  /** Whether this node holds the session. */
  holds(id: SessionId): boolean {
    return this.#held.has(id);
  }

  /** The sessions this node holds. */
  get heldSessions(): SessionId[] {
    return [...this.#held.keys()];
  }

  /** Every lease of the cluster as the lock has it (for records' `node` and the cluster API). */
  leases(): Promise<LeaseRecord[]> {
    return this.#lock.list();
  }

  /** Asks for a pass soon (a session was created, a node released its sessions). */
  wake(): void {
    if (!this.#running || this.#draining) return;
    void this.pass();
  }

  /**
   * Forgets a session whose write was refused under its fence (`FencedOutError`), or that is gone,
   * and has `onLost` close it. A fence that is no longer the held one is ignored (already handled).
   */
  async lost(fence: Fence, reason: LossReason): Promise<void> {
    const held = this.#held.get(fence.sessionId);
    if (!held || held.lease.epoch !== fence.epoch) return;
    this.#held.delete(fence.sessionId);
    this.#logger.warn(
      { sessionId: fence.sessionId, epoch: fence.epoch, reason },
      "session lease lost; closing its connection",
    );
    await this.#closeQuietly(fence.sessionId, reason);
  }

  /**
   * Gives up a session that is gone (deleted here): its lease is released without `onLost`, since
   * there is nothing left to close.
   */
  async forget(id: SessionId): Promise<void> {
    const held = this.#held.get(id);
    if (!held) return;
    this.#held.delete(id);
    await this.#lock.release([held.lease]).catch((error) => {
      this.#logger.debug({ err: error, sessionId: id }, "releasing a deleted session's lease");
    });
  }

  /**
   * One pass: heartbeat, renew, place. Passes never overlap; a pass asked for while one runs
   * runs once more after it.
   */
  pass(): Promise<void> {
    if (this.#passing) {
      this.#passAgain = true;
      return this.#passing;
    }
    this.#passing = (async () => {
      do {
        this.#passAgain = false;
        await this.#passOnce();
      } while (this.#passAgain && this.#running && !this.#draining);
    })().finally(() => {
      this.#passing = null;
    });
    return this.#passing;
  }

  /**
   * Stops every session whose lease could lapse before its renewal is confirmed. Runs on a timer;
   * public so that tests can drive it with their own clock.
   */
  checkSelfFence(): void {
    const now = this.#now();
    const expiring = [...this.#held.entries()].filter(([, held]) =>
      now >= held.confirmedUntil - this.#selfFenceMarginMs
    );
    if (expiring.length === 0) return;
    this.#logger.error(
      { sessions: expiring.length, ttlMs: this.#ttlMs },
      "lease renewals not confirmed in time; closing those sessions before their leases can lapse",
    );
    for (const [id] of expiring) {
      this.#held.delete(id);
      void this.#closeQuietly(id, "self_fenced");
    }
  }

  /**
   * Drains: marks the node draining (no node places sessions on it), closes every session's
   * socket, then releases their leases so other nodes take them at once, and leaves the registry.
   */
  async stop(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    clearTimeout(this.#timer);
    clearInterval(this.#watchdog);
    await this.#passing?.catch(() => {});
    try {
      await this.#options.registry.heartbeat(
        { ...this.#options.node, draining: true },
        this.#ttlMs,
      );
    } catch (error) {
      this.#logger.warn({ err: error }, "could not mark this node draining");
    }
    const held = [...this.#held.values()].map((h) => h.lease);
    await Promise.all(held.map((lease) => this.#closeQuietly(lease.sessionId, "shutdown")));
    this.#held.clear();
    try {
      if (held.length) await this.#lock.release(held);
      await this.#options.registry.leave(this.#options.node.id);
      this.#options.onReleased?.();
      this.#logger.info({ released: held.length }, "session leases released");
    } catch (error) {
      // The leases lapse after their TTL instead; nothing runs here any more either way.
      this.#logger.warn({ err: error, held: held.length }, "releasing session leases failed");
    }
    this.#running = false;
  }

  // --- the pass ---------------------------------------------------------------------------------

  async #passOnce(): Promise<void> {
    const outcome: PassOutcome = { acquired: 0, lost: 0, released: 0, failed: false };
    try {
      await this.#options.registry.heartbeat(
        { ...this.#options.node, draining: this.#draining },
        this.#ttlMs,
      );
      outcome.lost = await this.#renew();
      if (!this.#draining) {
        const placed = await this.#place();
        outcome.acquired = placed.acquired;
        outcome.released = placed.released;
      }
      if (this.#lastPassFailed) this.#logger.info("ownership pass succeeded again");
      this.#lastPassFailed = false;
    } catch (error) {
      outcome.failed = true;
      // Logged once per outage: the watchdog closes sessions if it lasts too long.
      if (!this.#lastPassFailed) this.#logger.error({ err: error }, "ownership pass failed");
      this.#lastPassFailed = true;
    }
    this.#options.onPass?.(outcome);
  }

  async #renew(): Promise<number> {
    if (this.#held.size === 0) return 0;
    const sentAt = this.#now();
    const asked = [...this.#held.values()].map((h) => h.lease);
    const renewed = new Set((await this.#lock.renew(asked, this.#ttlMs)).map(key));
    let lost = 0;
    for (const lease of asked) {
      const held = this.#held.get(lease.sessionId);
      if (!held || held.lease.epoch !== lease.epoch) continue; // changed meanwhile
      if (renewed.has(key(lease))) {
        held.confirmedUntil = sentAt + this.#ttlMs;
      } else {
        lost++;
        this.#held.delete(lease.sessionId);
        this.#logger.warn({ sessionId: lease.sessionId, epoch: lease.epoch }, "session lease lost");
        void this.#closeQuietly(lease.sessionId, "lease_lost");
      }
    }
    return lost;
  }

  async #place(): Promise<{ acquired: number; released: number }> {
    const [sessions, leaseList, nodes] = await Promise.all([
      this.#options.sessions(),
      this.#lock.list(),
      this.#options.registry.list(),
    ]);
    const leases = new Map(leaseList.map((lease) => [lease.sessionId, lease]));
    const now = this.#now();
    const unownedForMs = new Map<SessionId, number>();
    const present = new Set(sessions);
    for (const id of sessions) {
      const lease = leases.get(id);
      const unowned = !this.#held.has(id) && (!lease || lease.expired || lease.holder === null);
      if (!unowned) {
        this.#unownedSince.delete(id);
        continue;
      }
      const since = this.#unownedSince.get(id) ?? now;
      this.#unownedSince.set(id, since);
      unownedForMs.set(id, now - since);
    }
    for (const id of this.#unownedSince.keys()) if (!present.has(id)) this.#unownedSince.delete(id);
    for (const id of [...this.#held.keys()]) {
      // Deleted by some node: nothing to run, and the lease went with the session.
      if (!present.has(id)) {
        this.#held.delete(id);
        void this.#closeQuietly(id, "lease_lost");
      }
    }

    const decision = decidePlacement({
      self: this.identity,
      selfDraining: this.#draining,
      sessions,
      leases,
      nodes,
      held: new Set(this.#held.keys()),
      unownedForMs,
    }, { claimGraceMs: this.#claimGraceMs, moveShare: this.#moveShare });

    let acquired = 0;
    if (decision.acquire.length) {
      const sentAt = this.#now();
      const taken = await this.#lock.acquire(decision.acquire, this.#ttlMs);
      for (const lease of taken) {
        if (this.#draining) break;
        this.#held.set(lease.sessionId, { lease, confirmedUntil: sentAt + this.#ttlMs });
        this.#unownedSince.delete(lease.sessionId);
        acquired++;
        this.#logger.info({ sessionId: lease.sessionId, epoch: lease.epoch }, "session acquired");
        try {
          this.#options.listener.onAcquired(lease);
        } catch (error) {
          this.#logger.error({ err: error, sessionId: lease.sessionId }, "onAcquired failed");
        }
      }
    }

    const released: Lease[] = [];
    for (const id of decision.release) {
      const held = this.#held.get(id);
      if (!held) continue;
      this.#held.delete(id);
      await this.#closeQuietly(id, "rebalanced");
      released.push(held.lease);
    }
    if (released.length) {
      await this.#lock.release(released);
      this.#options.onReleased?.();
      this.#logger.info(
        { sessionIds: released.map((l) => l.sessionId) },
        "sessions given up to even out the load",
      );
    }
    return { acquired, released: released.length };
  }

  async #closeQuietly(id: SessionId, reason: LossReason): Promise<void> {
    try {
      await this.#options.listener.onLost(id, reason);
    } catch (error) {
      this.#logger.error({ err: error, sessionId: id, reason }, "closing a lost session failed");
    }
  }

  #schedule(): void {
    if (!this.#running || this.#draining) return;
    this.#timer = setTimeout(async () => {
      await this.pass();
      this.#schedule();
    }, this.#renewIntervalMs);
  }
}

function key(lease: Lease): string {
  return `${lease.sessionId}\u0000${lease.epoch}`;
}
