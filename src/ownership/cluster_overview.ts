import type { LeaseLock } from "./lease_lock.ts";
import type { NodeRegistry } from "./node_registry.ts";

/** A node as `GET /api/cluster/nodes` shows it. */
export interface NodeOverview {
  id: string;
  url: string;
  startedAt: string;
  lastHeartbeatAt: string;
  alive: boolean;
  draining: boolean;
  /** Sessions whose unexpired lease this node holds. */
  sessions: number;
  /** Whether this is the node that answered. */
  self: boolean;
}

/**
 * Every registered node with the number of sessions it owns, read from the registry and the
 * leases (so any node answers the same).
 *
 * @example
 * ```ts
 * const nodes = await clusterOverview(lock, registry);
 * ```
 */
export async function clusterOverview(
  lock: LeaseLock,
  registry: NodeRegistry,
): Promise<NodeOverview[]> {
  const [nodes, leases] = await Promise.all([registry.list(), lock.list()]);
  const owned = new Map<string, number>();
  for (const lease of leases) {
    if (lease.holder !== null && !lease.expired) {
      owned.set(lease.holder, (owned.get(lease.holder) ?? 0) + 1);
    }
  }
  return nodes
    .map((node) => ({
      id: node.id,
      url: node.url,
      startedAt: node.startedAt.toISOString(),
      lastHeartbeatAt: node.heartbeatAt.toISOString(),
      alive: node.alive,
      draining: node.draining,
      sessions: owned.get(node.id) ?? 0,
      self: node.id === lock.identity,
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
}
