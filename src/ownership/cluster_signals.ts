import type { SessionId } from "../domain/session_id.ts";

/**
 * A nudge from one node to the others. Only a hint that something changed in the store (which
 * holds the truth): a node that misses one catches up at its next ownership pass.
 */
export type ClusterSignal =
  /** Sessions were created or deleted, or leases released: run an ownership pass now. */
  | { kind: "placement" }
  /** An operator changed a session's spec on some node: its owner reloads it. */
  | { kind: "spec"; sessionId: SessionId };

/**
 * Carries `ClusterSignal`s between the nodes of a cluster (PostgreSQL's LISTEN/NOTIFY). A store
 * only one process can open has no other node to tell and needs none.
 */
export interface ClusterSignals {
  /** Tells the other nodes (and this one). Never throws, never waits. */
  send(signal: ClusterSignal): void;

  /**
   * Starts receiving: `onSignal` gets every signal sent from now on; `onResync` is called whenever
   * signals may have been missed (the listening connection was lost and is back).
   */
  start(onSignal: (signal: ClusterSignal) => void, onResync: () => void): Promise<void>;

  /** Stops receiving and sends what is still queued. */
  close(): Promise<void>;
}
