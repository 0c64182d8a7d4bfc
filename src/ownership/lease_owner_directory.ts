import type { SessionId } from "../domain/session_id.ts";
import type { LeaseLock } from "./lease_lock.ts";
import type { NodeRegistry } from "./node_registry.ts";
import type { OwnerDirectory, SessionOwner } from "./owner_directory.ts";

/**
 * Answers `ownerOf` from the lease lock and the node registry: the holder of an unexpired lease,
 * if it is a live node. This node's own leases are answered from its ownership loop (`holds`),
 * which may have given a session up before the store shows it.
 */
export class LeaseOwnerDirectory implements OwnerDirectory {
  readonly #lock: LeaseLock;
  readonly #registry: NodeRegistry;
  readonly #holds: (id: SessionId) => boolean;
  readonly #exists: (id: SessionId) => Promise<boolean>;

  constructor(options: {
    lock: LeaseLock;
    registry: NodeRegistry;
    /** Whether this node runs the session now. */
    holds: (id: SessionId) => boolean;
    /** Whether the session exists at all. */
    exists: (id: SessionId) => Promise<boolean>;
  }) {
    this.#lock = options.lock;
    this.#registry = options.registry;
    this.#holds = options.holds;
    this.#exists = options.exists;
  }

  async ownerOf(id: SessionId): Promise<SessionOwner> {
    if (this.#holds(id)) return { kind: "self" };
    const [lease, exists] = await Promise.all([this.#lock.get(id), this.#exists(id)]);
    if (!exists) return { kind: "unknown" };
    if (!lease || lease.expired || lease.holder === null || lease.holder === this.#lock.identity) {
      return { kind: "none" };
    }
    const node = (await this.#registry.list()).find((n) => n.id === lease.holder);
    if (!node || !node.alive) return { kind: "none" };
    return { kind: "node", nodeId: node.id, url: node.url };
  }
}
