import { z } from "zod";
import { SessionIdSchema } from "./session_id.ts";
import { type MaskedWebhook, maskWebhook, SessionWebhooksSchema } from "./webhook.ts";

/**
 * The closed set of states a session can be in. Documented for API users in README.md.
 *
 * - `initializing`: created, its connection not started yet.
 * - `connecting`: a socket is opening, or logging in with saved credentials.
 * - `qr`: waiting for a phone to link it (a QR code or pairing code is available).
 * - `connected`: linked and online.
 * - `reconnecting`: the connection dropped; a new attempt is scheduled with backoff.
 * - `disconnected`: not connected and not trying: stopped by an operator, replaced by another
 *   connection, or shut down with the gateway.
 * - `logged_out`: WhatsApp ended the link (the phone removed it, or it was logged out); its
 *   credentials are deleted and it needs a new QR.
 * - `failed`: gave up: the QR was never scanned, or the stored credentials could not be used.
 */
export const SESSION_STATUSES = [
  "initializing",
  "connecting",
  "qr",
  "connected",
  "reconnecting",
  "disconnected",
  "logged_out",
  "failed",
] as const;

export const SessionStatusSchema = z.enum(SESSION_STATUSES);
export type SessionStatus = z.infer<typeof SessionStatusSchema>;

/**
 * Whether the operator wants the session connected. `stopped` sessions are not reconnected,
 * neither after a connection loss nor when the gateway restarts.
 */
export const DesiredStateSchema = z.enum(["running", "stopped"]);
export type DesiredState = z.infer<typeof DesiredStateSchema>;

const IsoTimestampSchema = z.iso.datetime({ offset: true });

/** Why the last connection ended, as reported by WhatsApp or the gateway. */
export const DisconnectInfoSchema = z.object({
  /** WhatsApp/Baileys status code (e.g. 401 logged out, 440 replaced, 515 restart), if any. */
  code: z.number().int().nullable(),
  /** Machine-readable reason, e.g. `logged_out`, `connection_replaced`, `connection_lost`. */
  reason: z.string().max(100),
  message: z.string().max(500).nullable(),
  at: IsoTimestampSchema,
});
export type DisconnectInfo = z.infer<typeof DisconnectInfoSchema>;

/**
 * A session as persisted in `sessions-metadata.json`. This schema validates every entry read
 * back from disk; optional fields have defaults so files written by older versions still load.
 */
export const SessionRecordSchema = z.object({
  id: SessionIdSchema,
  /** Operator-chosen label. */
  name: z.string().max(200).nullable().default(null),
  status: SessionStatusSchema.default("disconnected"),
  desiredState: DesiredStateSchema.default("running"),
  /** The linked phone number (digits only), once linked. */
  phoneNumber: z.string().max(32).nullable().default(null),
  /** The WhatsApp account's display name, when WhatsApp tells us. */
  pushName: z.string().max(200).nullable().default(null),
  createdAt: IsoTimestampSchema,
  updatedAt: IsoTimestampSchema.optional(),
  connectedAt: IsoTimestampSchema.nullable().default(null),
  lastDisconnectedAt: IsoTimestampSchema.nullable().default(null),
  lastDisconnect: DisconnectInfoSchema.nullable().default(null),
  /**
   * Where this session's events are POSTed (besides the global webhook), secrets included.
   * Optional, so that records written before webhooks existed (or by code that never sets it)
   * stay valid; absent means none.
   */
  webhooks: SessionWebhooksSchema.optional(),
});

/** A session's persisted metadata. */
export type SessionRecord = z.infer<typeof SessionRecordSchema>;

/** A session as the outside world sees it (API responses, events): webhook secrets masked. */
export type PublicSessionRecord = Omit<SessionRecord, "webhooks"> & { webhooks: MaskedWebhook[] };

/**
 * The record with every webhook secret masked: the only form that leaves the process.
 *
 * @example
 * ```ts
 * return c.json(publicSession(record));
 * ```
 */
export function publicSession(record: SessionRecord): PublicSessionRecord {
  return { ...record, webhooks: (record.webhooks ?? []).map(maskWebhook) };
}
