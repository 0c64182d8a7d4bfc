import type { SessionId } from "../domain/session_id.ts";

/**
 * A session's lease as its holder has it. The epoch is the fencing token (see
 * `src/domain/fence.ts`): every acquisition, by any node, increases it.
 */
export interface Lease {
  readonly sessionId: SessionId;
  readonly epoch: number;
}

/** A session's lease as the store has it, whoever holds it. */
export interface LeaseRecord {
  readonly sessionId: SessionId;
  /** The holder's node id; `null` when released or never acquired. */
  readonly holder: string | null;
  readonly epoch: number;
  /** When the lease lapses unless renewed, in the store's clock. */
  readonly expiresAt: Date;
  /** Whether it has lapsed, judged by the store's clock (never a node's). */
  readonly expired: boolean;
}

/**
 * The backend of session ownership, in the spirit of client-go's `resourcelock.Interface`: a small
 * lock over one lease per session that a store implements (in memory for the single-process file
 * store, a table for PostgreSQL), driven by an ownership loop that knows nothing of the backend.
 *
 * Unlike client-go's leases these fence: the epoch a holder acquired is checked by the store on
 * each of the session's writes. Expiry is judged in the store's clock, so nodes' clocks may
 * disagree; a holder still self-fences on its own monotonic clock (it stops the session before the
 * lease can lapse when renewals have not been confirmed), because a lapsed lease may be acquired by
 * another node at once.
 *
 * Contract, for every implementation:
 * - `acquire` takes only sessions that exist and whose lease is unheld or expired; two nodes
 *   acquiring the same session concurrently never both succeed;
 * - every successful acquisition returns an epoch greater than any epoch before it for that session;
 * - `renew` and `release` act only on leases still held by this node under the given epoch (a
 *   lease that was lost is reported lost, never revived);
 * - every method that resolves has made its change durable.
 */
export interface LeaseLock {
  /** This node's id (`NODE_ID`), the holder written on every lease it acquires. */
  readonly identity: string;

  /**
   * Acquires, for `ttlMs`, each of these sessions whose lease is unheld or expired. Resolves with
   * the leases taken (new epochs); sessions not returned are held by another node or unknown.
   */
  acquire(sessionIds: readonly SessionId[], ttlMs: number): Promise<Lease[]>;

  /**
   * Extends leases still held by this node under their epochs by `ttlMs` from now (the store's
   * now). Resolves with those renewed; a lease not returned is lost and must be given up.
   */
  renew(leases: readonly Lease[], ttlMs: number): Promise<Lease[]>;

  /**
   * Gives leases up so that another node may acquire them at once. Only leases still held by this
   * node under their epoch are affected.
   */
  release(leases: readonly Lease[]): Promise<void>;

  /** One session's lease; `undefined` when it was never leased (or the session is gone). */
  get(sessionId: SessionId): Promise<LeaseRecord | undefined>;

  /** Every session's lease (sessions never leased have none), for placement and the cluster API. */
  list(): Promise<LeaseRecord[]>;
}
