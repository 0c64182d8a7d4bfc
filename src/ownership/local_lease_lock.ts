import type { SessionId } from "../domain/session_id.ts";
import type { Lease, LeaseLock, LeaseRecord } from "./lease_lock.ts";
import type { NodeRecord, NodeRegistry } from "./node_registry.ts";

interface Row {
  holder: string | null;
  epoch: number;
  expiresAt: number;
}

/**
 * Leases and nodes in memory, for a store that only one process can open (the file store, behind
 * its lock): the process is the only node, so its leases need no database. Several locks over one
 * table (`lock(identity)`) share it, which is how the ownership loop is tested with several nodes
 * in one process.
 *
 * @example
 * ```ts
 * const table = new LocalLeaseTable({ sessionExists: (id) => records.has(id) });
 * const lock = table.lock("node-a");
 * ```
 */
export class LocalLeaseTable {
  readonly #rows = new Map<SessionId, Row>();
  readonly #nodes = new Map<string, Omit<NodeRecord, "alive"> & { until: number }>();
  readonly #now: () => number;
  readonly #sessionExists: (id: SessionId) => boolean;

  constructor(options: { sessionExists?: (id: SessionId) => boolean; now?: () => number } = {}) {
    this.#sessionExists = options.sessionExists ?? (() => true);
    this.#now = options.now ?? (() => Date.now());
  }

  /** A lock over this table held as `identity`. */
  lock(identity: string): LeaseLock {
    return {
      identity,
      acquire: (ids, ttlMs) => Promise.resolve(this.#acquire(identity, ids, ttlMs)),
      renew: (leases, ttlMs) => Promise.resolve(this.#renew(identity, leases, ttlMs)),
      release: (leases) => Promise.resolve(this.#release(identity, leases)),
      get: (id) => Promise.resolve(this.#list().find((lease) => lease.sessionId === id)),
      list: () => Promise.resolve(this.#list()),
    };
  }

  /** The node registry over this table. */
  get registry(): NodeRegistry {
    return {
      heartbeat: (node, ttlMs) => {
        const now = this.#now();
        const previous = this.#nodes.get(node.id);
        this.#nodes.set(node.id, {
          ...node,
          startedAt: previous?.startedAt ?? new Date(now),
          heartbeatAt: new Date(now),
          until: now + ttlMs,
        });
        return Promise.resolve();
      },
      list: () => {
        const now = this.#now();
        return Promise.resolve(
          [...this.#nodes.values()].map(({ until, ...node }) => ({ ...node, alive: until > now })),
        );
      },
      leave: (id) => {
        this.#nodes.delete(id);
        return Promise.resolve();
      },
    };
  }

  /** Forgets a deleted session's lease. */
  forget(id: SessionId): void {
    this.#rows.delete(id);
  }

  #acquire(identity: string, ids: readonly SessionId[], ttlMs: number): Lease[] {
    const now = this.#now();
    const taken: Lease[] = [];
    for (const id of ids) {
      if (!this.#sessionExists(id)) continue;
      const row = this.#rows.get(id);
      if (row && row.holder !== null && row.expiresAt > now) continue;
      const epoch = (row?.epoch ?? 0) + 1;
      this.#rows.set(id, { holder: identity, epoch, expiresAt: now + ttlMs });
      taken.push({ sessionId: id, epoch });
    }
    return taken;
  }

  #renew(identity: string, leases: readonly Lease[], ttlMs: number): Lease[] {
    const now = this.#now();
    return leases.filter((lease) => {
      const row = this.#rows.get(lease.sessionId);
      if (!row || row.holder !== identity || row.epoch !== lease.epoch || row.expiresAt <= now) {
        return false;
      }
      row.expiresAt = now + ttlMs;
      return true;
    });
  }

  #release(identity: string, leases: readonly Lease[]): void {
    const now = this.#now();
    for (const lease of leases) {
      const row = this.#rows.get(lease.sessionId);
      if (row && row.holder === identity && row.epoch === lease.epoch) {
        row.holder = null;
        row.expiresAt = now;
      }
    }
  }

  #list(): LeaseRecord[] {
    const now = this.#now();
    return [...this.#rows.entries()].map(([sessionId, row]) => ({
      sessionId,
      holder: row.holder,
      epoch: row.epoch,
      expiresAt: new Date(row.expiresAt),
      expired: row.expiresAt <= now,
    }));
  }
}
