/** A gateway node as the registry has it. */
export interface NodeRecord {
  /** `NODE_ID`. */
  readonly id: string;
  /** `NODE_URL`: where the other nodes reach this node's HTTP API. */
  readonly url: string;
  readonly startedAt: Date;
  /** The last heartbeat, in the store's clock. */
  readonly heartbeatAt: Date;
  /** Whether its last heartbeat is recent enough (judged by the store's clock). */
  readonly alive: boolean;
  /** Set from the moment it began to drain (SIGTERM): it takes no new sessions. */
  readonly draining: boolean;
}

/**
 * The nodes of a cluster: each node registers and heartbeats, so that others know where to forward
 * requests, how to place new sessions and which nodes are gone. A single-process store has one
 * node, itself.
 *
 * Every method that resolves has made its change durable; liveness is judged in the store's clock.
 */
export interface NodeRegistry {
  /** Registers this node or refreshes its heartbeat (and URL). */
  heartbeat(node: { id: string; url: string; draining: boolean }, ttlMs: number): Promise<void>;

  /** Every registered node, alive or not. */
  list(): Promise<NodeRecord[]>;

  /** Removes this node from the registry (clean shutdown). */
  leave(id: string): Promise<void>;
}
