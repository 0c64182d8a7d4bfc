import type { WAMessage } from "@whiskeysockets/baileys";
import type { SessionMessages } from "../domain/message_store.ts";
import type { Logger } from "../logger.ts";
import { toStoredMessage } from "./stored_messages.ts";

/**
 * Writes what a connection sends and receives to the session's message store. Received batches
 * are stored one after another, and each is reported only once it is durable, so reports keep
 * the order Baileys gave them. A store that fails is logged; the message is still reported
 * (WhatsApp has acknowledged it already, and losing it from the report too would be worse).
 */
export class MessageRecorder {
  readonly #messages?: SessionMessages;
  readonly #logger: Logger;
  #received: Promise<void> = Promise.resolve();

  constructor(messages: SessionMessages | undefined, logger: Logger) {
    this.#messages = messages;
    this.#logger = logger;
  }

  /** Stores a message this connection sent; resolves once it is durable (or failed). */
  async recordSent(message: WAMessage, ownJid: string | undefined): Promise<void> {
    await this.#store([message], ownJid);
  }

  /** Stores received messages, then calls `report`, after every earlier batch's report. */
  recordReceived(messages: WAMessage[], ownJid: string | undefined, report: () => void): void {
    this.#received = this.#received.then(async () => {
      await this.#store(messages, ownJid);
      report();
    });
  }

  /** Runs `task` after everything queued so far (a change to a message after the message). */
  enqueue(task: () => Promise<void>): void {
    this.#received = this.#received.then(task).catch((error) => {
      this.#logger.error({ err: error }, "a queued message task failed");
    });
  }

  /** Stores messages from history sync (`HISTORY_SYNC=full`), after every earlier batch. */
  recordHistory(messages: WAMessage[], ownJid: string | undefined): void {
    this.#received = this.#received.then(() => this.#store(messages, ownJid));
  }

  async #store(messages: WAMessage[], ownJid: string | undefined): Promise<void> {
    if (!this.#messages) return;
    const stored = messages.map((m) => toStoredMessage(m, ownJid)).filter((m) => m !== null);
    if (stored.length === 0) return;
    try {
      await this.#messages.put(stored);
    } catch (error) {
      this.#logger.error(
        { err: error, messageIds: stored.map((m) => m.id) },
        "storing messages failed",
      );
    }
  }
}
