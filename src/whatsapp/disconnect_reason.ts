/**
 * What the gateway does when Baileys reports a closed connection, by status code.
 *
 * - `restart`: WhatsApp asked for a new socket (515 after pairing): reconnect at once.
 * - `reconnect`: the connection was lost (closed, timed out, 5xx, unknown): retry with backoff.
 * - `logged_out`: WhatsApp ended the link (401): stop, mark `logged_out`, delete credentials.
 * - `replaced`: another client took over this session (440): stop, do not fight it.
 * - `fatal`: retrying cannot help (403 forbidden, 411 multi-device mismatch): stop, mark `failed`,
 *   keep the credentials for an operator to look at.
 */
export type DisconnectAction = "restart" | "reconnect" | "logged_out" | "replaced" | "fatal";

export interface DisconnectClassification {
  action: DisconnectAction;
  /** Machine-readable reason stored in the session's `lastDisconnect`. */
  reason: string;
}

const BY_CODE: Record<number, DisconnectClassification> = {
  515: { action: "restart", reason: "restart_required" },
  401: { action: "logged_out", reason: "logged_out" },
  440: { action: "replaced", reason: "connection_replaced" },
  403: { action: "fatal", reason: "forbidden" },
  411: { action: "fatal", reason: "multidevice_mismatch" },
  428: { action: "reconnect", reason: "connection_closed" },
  408: { action: "reconnect", reason: "connection_lost" },
  500: { action: "reconnect", reason: "bad_session" },
  503: { action: "reconnect", reason: "service_unavailable" },
};

/** Classifies a Baileys disconnect status code (undefined when the error carried none). */
export function classifyDisconnect(code: number | undefined): DisconnectClassification {
  if (code !== undefined && BY_CODE[code]) return BY_CODE[code];
  if (code !== undefined && code >= 500) return { action: "reconnect", reason: "server_error" };
  return { action: "reconnect", reason: "connection_error" };
}
