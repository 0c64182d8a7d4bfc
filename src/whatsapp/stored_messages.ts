/**
 * Baileys' messages to and from the message store: what is kept of a `WAMessage`, and the
 * `getMessage` Baileys calls to send a message again (a retry receipt) or to decrypt a poll vote.
 */
import {
  jidNormalizedUser,
  normalizeMessageContent,
  proto,
  toNumber,
  type WAMessage,
  type WAMessageKey,
} from "@whiskeysockets/baileys";
import type { SessionMessages, StoredMessage, StoredMessageKey } from "../domain/message_store.ts";
import type { Logger } from "../logger.ts";
import { fromWAMessage, statusFromBaileys } from "./message_content.ts";

/**
 * What the store keeps of a Baileys message; `null` for what is not a message of a chat
 * (protocol messages such as edits and history notifications, key distribution, status
 * broadcasts, reactions and poll votes, which change other messages instead).
 *
 * @example
 * ```ts
 * const stored = toStoredMessage(sent, socket.user?.id);
 * if (stored) await messages.put([stored]);
 * ```
 */
export function toStoredMessage(
  message: WAMessage,
  ownJid: string | undefined,
): StoredMessage | null {
  const key = message.key;
  const content = normalizeMessageContent(message.message);
  if (!key?.id || !key.remoteJid || !content || !message.message) return null;
  if (key.remoteJid === "status@broadcast") return null;
  if (content.protocolMessage || content.reactionMessage || content.pollUpdateMessage) return null;
  const fields = Object.entries(content).filter(([, value]) =>
    value !== null && value !== undefined
  );
  const onlyKeys = fields.every(([name]) =>
    name === "senderKeyDistributionMessage" || name === "messageContextInfo"
  );
  if (onlyKeys) return null;
  const fromMe = key.fromMe ?? false;
  const described = fromWAMessage({ ...message, key: { ...key, fromMe: false } });
  return {
    id: key.id,
    key: storedKey(key),
    chat: key.remoteJid,
    sender: fromMe
      ? (ownJid ? jidNormalizedUser(ownJid) : null)
      : (key.participant ?? key.remoteJid),
    fromMe,
    pushName: message.pushName ?? null,
    timestamp: toNumber(message.messageTimestamp ?? Math.floor(Date.now() / 1000)) * 1000,
    status: fromMe ? statusFromBaileys(message.status) ?? "pending" : null,
    read: fromMe,
    type: described?.type ?? "other",
    text: described?.text ?? null,
    content: proto.Message.encode(message.message).finish(),
    editedAt: null,
    deletedAt: null,
  };
}

function storedKey(key: WAMessageKey): StoredMessageKey {
  return {
    remoteJid: key.remoteJid!,
    fromMe: key.fromMe ?? false,
    id: key.id!,
    ...(key.participant ? { participant: key.participant } : {}),
    ...(key.remoteJidAlt ? { remoteJidAlt: key.remoteJidAlt } : {}),
    ...(key.participantAlt ? { participantAlt: key.participantAlt } : {}),
  };
}

/** A stored message's content as Baileys' `proto.IMessage`. */
export function storedContent(message: StoredMessage): proto.IMessage {
  return proto.Message.decode(message.content);
}

/**
 * Baileys' `getMessage`: the content of a stored message, for a retry receipt or a poll vote;
 * `undefined` when it is not stored (or was deleted for everyone). Never throws: a store that
 * cannot answer is logged and leaves Baileys without the message, as it would be without a store.
 *
 * @example
 * ```ts
 * makeWASocket({ ...config, getMessage: storedMessageLookup(messages, logger) });
 * ```
 */
export function storedMessageLookup(
  messages: SessionMessages | undefined,
  logger: Logger,
): (key: WAMessageKey) => Promise<proto.IMessage | undefined> {
  return async (key) => {
    if (!messages || !key.id) return undefined;
    try {
      const stored = await messages.get(key.id);
      if (!stored || stored.deletedAt !== null || stored.content.byteLength === 0) {
        logger.debug({ messageId: key.id }, "getMessage: not in the message store");
        return undefined;
      }
      return storedContent(stored);
    } catch (error) {
      logger.error({ err: error, messageId: key.id }, "getMessage: reading the store failed");
      return undefined;
    }
  };
}
