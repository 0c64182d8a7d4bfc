/**
 * Faults a real network shows on demand: a contact's phone that cannot decrypt a message and
 * asks for it again with a retry receipt (Baileys then re-sends it from `getMessage`), and hooks
 * around the server's ack of a message (to hold it, or to act the moment it is sent).
 */
import type { BinaryNode } from "@whiskeysockets/baileys";

/** A message a contact could not decrypt, waiting for its retry receipt. */
export interface UndecryptedMessage {
  id: string;
  /** The contact's phone number. */
  contact: string;
  /** The sending account's phone number. */
  from: string;
  /** The stanza's `t`. */
  t: string;
}

/** Called around each message ack: `before` may hold it back, `after` runs once it was sent. */
export interface AckHooks {
  before?: (messageId: string) => Promise<void> | void;
  after?: (messageId: string) => void;
}

/** The fault state of one fake server. */
export class MessageFaults {
  readonly #failNext = new Map<string, number>();
  readonly undecrypted: UndecryptedMessage[] = [];
  ackHooks: AckHooks = {};

  /** The contact's phone fails to decrypt the next `count` messages sent to it. */
  failNextDecrypt(contact: string, count = 1): void {
    this.#failNext.set(contact, (this.#failNext.get(contact) ?? 0) + count);
  }

  /** Whether this copy is one the contact fails to decrypt (and so records it). */
  failsToDecrypt(message: UndecryptedMessage): boolean {
    const left = this.#failNext.get(message.contact) ?? 0;
    if (left <= 0) return false;
    this.#failNext.set(message.contact, left - 1);
    this.undecrypted.push(message);
    return true;
  }

  /** The undecrypted message `id`, forgotten once its retry is asked for. */
  take(id: string): UndecryptedMessage {
    const index = this.undecrypted.findIndex((message) => message.id === id);
    if (index < 0) throw new Error(`no undecrypted message ${id}`);
    return this.undecrypted.splice(index, 1)[0];
  }
}

/**
 * The retry receipt a phone sends for a message it could not decrypt (what Baileys' own
 * `sendRetryRequest` builds): the message id, the retry count, and the phone's registration id.
 */
export function retryReceipt(
  message: UndecryptedMessage,
  contactJid: string,
  registrationId: number,
): BinaryNode {
  const registration = new Uint8Array(4);
  new DataView(registration.buffer).setUint32(0, registrationId);
  return {
    tag: "receipt",
    attrs: { from: contactJid, id: message.id, type: "retry", t: message.t },
    content: [
      { tag: "retry", attrs: { count: "1", id: message.id, t: message.t, v: "1", error: "0" } },
      { tag: "registration", attrs: {}, content: registration },
    ],
  };
}
