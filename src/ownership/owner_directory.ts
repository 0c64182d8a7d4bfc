import type { SessionId } from "../domain/session_id.ts";

/** Where a session runs, as one node sees it. */
export type SessionOwner =
  /** This node holds the session's lease. */
  | { kind: "self" }
  /** Another live node holds it. */
  | { kind: "node"; nodeId: string; url: string }
  /** The session exists but no live node holds it right now (between owners). */
  | { kind: "none" }
  /** There is no such session. */
  | { kind: "unknown" };

/** Tells which node runs a session, so that requests needing its socket reach that node. */
export interface OwnerDirectory {
  ownerOf(id: SessionId): Promise<SessionOwner>;
}
