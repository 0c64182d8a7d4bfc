import type { ConnectionStatusUpdate } from "./connection.ts";
import type { SessionRecord, SessionStatus } from "./session.ts";
import type { SessionReportChange } from "./session_store.ts";

/** Statuses after which a starting session no longer holds up readiness (or its start slot). */
export const SETTLED_STATUSES: ReadonlySet<SessionStatus> = new Set([
  "connected",
  "qr",
  "reconnecting",
  "disconnected",
  "logged_out",
  "failed",
]);

/** What a connection's status update means for its session. */
export interface StatusTransition {
  /** The report to write (under the owner's fence). */
  report: SessionReportChange;
  /** WhatsApp ended the link: the credentials are worthless and must be deleted. */
  credentialsGone: boolean;
  /** The connection is finished (gave up, was replaced, was logged out): `start` opens a new one. */
  connectionFinished: boolean;
}

/**
 * Turns a connection's status update into the session's next report. Pure: the runtime applies
 * the result (writes the report, deletes credentials, forgets the connection).
 *
 * @example
 * ```ts
 * const { report } = reduceStatus(record, { status: "connected", account }, now);
 * ```
 */
export function reduceStatus(
  record: SessionRecord,
  update: ConnectionStatusUpdate,
  now: string,
): StatusTransition {
  const report: SessionReportChange = { status: update.status, updatedAt: now };
  if (update.account) {
    report.phoneNumber = update.account.phoneNumber;
    report.pushName = update.account.pushName ?? record.pushName;
  }
  if (update.status === "connected" && record.status !== "connected") report.connectedAt = now;
  if (update.disconnect) {
    report.lastDisconnect = { ...update.disconnect, at: now };
    if (record.status === "connected") report.lastDisconnectedAt = now;
  }
  return {
    report,
    credentialsGone: update.status === "logged_out",
    connectionFinished: update.status === "logged_out" || update.status === "failed" ||
      update.status === "disconnected",
  };
}
