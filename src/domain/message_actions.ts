import { MessageNotFoundError, SessionStateError, ValidationError } from "./errors.ts";
import type { SessionId } from "./session_id.ts";
import type { ChatPresence, MessageKeyRef } from "./message_activity.ts";
import type { MessageStore, StoredMessage } from "./message_store.ts";
import type { SessionManager } from "./session_manager.ts";

/**
 * What a session does to its messages and chats besides sending: edit a sent text, delete a
 * message for everyone, mark messages read, show typing. Each goes to WhatsApp through the
 * session's connection, then into the message store, and edits and deletions are published
 * like those made on the other side (`message.edited`, `message.deleted`).
 *
 * @example
 * ```ts
 * const actions = new MessageActions(manager, messageStore);
 * await actions.edit("shop-1", "3EB0…", "corrected text");
 * ```
 */
export class MessageActions {
  readonly #manager: SessionManager;
  readonly #messages: MessageStore;

  constructor(manager: SessionManager, messages: MessageStore) {
    this.#manager = manager;
    this.#messages = messages;
  }

  /** Edits a text this account sent; returns the message as stored afterwards. */
  async edit(sessionId: string, messageId: string, text: string): Promise<StoredMessage> {
    const { record, connection } = await this.#manager.connected(sessionId, "edit messages");
    const message = await this.#own(record.id, messageId, "edited");
    if (message.type !== "text") throw new ValidationError("Only text messages can be edited");
    await connection.perform({ kind: "edit", key: keyOf(message), text });
    this.#manager.publishActivity(record.id, {
      kind: "message.edited",
      messageId,
      chat: message.chat,
      fromMe: true,
      text,
      at: new Date().toISOString(),
    });
    return (await this.#messages.get(record.id, messageId)) ?? message;
  }

  /** Deletes a message this account sent, for everyone. */
  async delete(sessionId: string, messageId: string): Promise<void> {
    const { record, connection } = await this.#manager.connected(sessionId, "delete messages");
    const message = await this.#own(record.id, messageId, "deleted");
    await connection.perform({ kind: "delete", key: keyOf(message) });
    this.#manager.publishActivity(record.id, {
      kind: "message.deleted",
      messageId,
      chat: message.chat,
      fromMe: true,
      at: new Date().toISOString(),
    });
  }

  /**
   * Sends read receipts for a chat's unread received messages (those listed, or all of them)
   * and marks them read in the store; returns how many.
   */
  async markRead(sessionId: string, chat: string, messageIds?: string[]): Promise<number> {
    const { record, connection } = await this.#manager.connected(sessionId, "mark messages read");
    const unread: StoredMessage[] = [];
    const wanted = messageIds ? new Set(messageIds) : null;
    let cursor: string | undefined;
    do {
      const page = await this.#messages.history(record.id, chat, { limit: 200, cursor });
      for (const message of page.items) {
        if (message.fromMe || message.read) continue;
        if (!wanted || wanted.has(message.id)) unread.push(message);
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    if (unread.length === 0) return 0;
    await connection.perform({ kind: "read", keys: unread.map(keyOf) });
    return await this.#messages.markRead(
      this.#manager.fenceOf(record.id),
      chat,
      unread.map((message) => message.id),
    );
  }

  /** Shows this account typing or recording in a chat, or stops it. */
  async presence(sessionId: string, chat: string, state: ChatPresence): Promise<void> {
    const { connection } = await this.#manager.connected(sessionId, "show presence");
    await connection.perform({ kind: "presence", chat, state });
  }

  async #own(sessionId: SessionId, messageId: string, what: string) {
    const message = await this.#messages.get(sessionId, messageId);
    if (!message) throw new MessageNotFoundError(messageId);
    if (!message.fromMe) {
      throw new SessionStateError(
        `Message '${messageId}' was sent by the other side; only its sender can have it ${what}`,
        "not_own_message",
      );
    }
    if (message.deletedAt !== null) {
      throw new SessionStateError(`Message '${messageId}' was deleted`, "message_deleted");
    }
    return message;
  }
}

function keyOf(message: StoredMessage): MessageKeyRef {
  return {
    remoteJid: message.key.remoteJid,
    fromMe: message.key.fromMe,
    id: message.key.id,
    ...(message.key.participant ? { participant: message.key.participant } : {}),
  };
}
