import type { MessageStatus } from "./message.ts";
import type { SessionId } from "./session_id.ts";

/** How far along each status is; receipts never move a message backwards. */
const RANK: Record<MessageStatus, number> = {
  failed: -1,
  pending: 0,
  sent: 1,
  delivered: 2,
  read: 3,
  played: 4,
};

/** A status change the tracker accepted. */
export interface StatusChange {
  status: MessageStatus;
  /** `null` when the gateway did not know the message (sent before a restart, or from the phone). */
  previousStatus: MessageStatus | null;
  /** The recipient's JID, when the gateway sent the message. */
  to: string | null;
}

interface Tracked {
  status: MessageStatus;
  to: string | null;
}

/**
 * The status of recently sent messages, so that a receipt maps to the message it is about and a
 * late or repeated receipt (a `delivered` after a `read`) is dropped. In memory and bounded: the
 * least recently touched messages are forgotten first, and everything is forgotten on restart
 * (a receipt for a forgotten message is still reported, with `previousStatus: null`).
 *
 * @example
 * ```ts
 * const tracker = new MessageStatusTracker(10_000);
 * tracker.sent(sessionId, { id: "3EB0…", to: "15550009999@s.whatsapp.net", status: "sent" });
 * tracker.update(sessionId, "3EB0…", "read"); // { status: "read", previousStatus: "sent", to }
 * ```
 */
export class MessageStatusTracker {
  readonly #limit: number;
  readonly #messages = new Map<string, Tracked>();

  constructor(limit = 10_000) {
    this.#limit = Math.max(1, limit);
  }

  /** How many messages are tracked. */
  get size(): number {
    return this.#messages.size;
  }

  /** Starts tracking a message the session just sent. */
  sent(sessionId: SessionId, message: { id: string; to: string; status: MessageStatus }): void {
    this.#put(key(sessionId, message.id), { status: message.status, to: message.to });
  }

  /** Applies a receipt; `null` when it does not move the message forward. */
  update(sessionId: SessionId, id: string, status: MessageStatus): StatusChange | null {
    const k = key(sessionId, id);
    const current = this.#messages.get(k);
    if (current && (current.status === "failed" || RANK[status] <= RANK[current.status])) {
      return null;
    }
    this.#put(k, { status, to: current?.to ?? null });
    return { status, previousStatus: current?.status ?? null, to: current?.to ?? null };
  }

  /** The tracked status of a message, if any. */
  status(sessionId: SessionId, id: string): MessageStatus | undefined {
    return this.#messages.get(key(sessionId, id))?.status;
  }

  /** Forgets every message of a session (it was deleted). */
  forgetSession(sessionId: SessionId): void {
    const prefix = key(sessionId, "");
    for (const k of this.#messages.keys()) if (k.startsWith(prefix)) this.#messages.delete(k);
  }

  #put(k: string, value: Tracked): void {
    this.#messages.delete(k);
    this.#messages.set(k, value);
    if (this.#messages.size > this.#limit) {
      this.#messages.delete(this.#messages.keys().next().value!);
    }
  }
}

function key(sessionId: SessionId, id: string): string {
  return `${sessionId}\u0000${id}`;
}
