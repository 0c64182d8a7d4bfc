import {
  type AnyMessageContent,
  isJidGroup,
  jidDecode,
  jidNormalizedUser,
  normalizeMessageContent,
  toNumber,
  type WAMessage,
  type WAMessageKey,
} from "@whiskeysockets/baileys";
import type {
  IncomingMessage,
  MessageStatus,
  OutgoingMediaMessage,
  OutgoingMessage,
} from "../domain/message.ts";
import { fromSharedContent, sharedContent } from "./shared_content.ts";
import { receivedMedia } from "./media_message.ts";

/** Baileys' `proto.WebMessageInfo.Status` codes, in order. */
const STATUS_BY_CODE: readonly MessageStatus[] = [
  "failed", // ERROR
  "pending", // PENDING
  "sent", // SERVER_ACK
  "delivered", // DELIVERY_ACK
  "read", // READ
  "played", // PLAYED
];

/**
 * The gateway's status for a Baileys status code; `undefined` for a code it does not know.
 *
 * @example
 * ```ts
 * statusFromBaileys(4); // "read"
 * ```
 */
export function statusFromBaileys(code: number | null | undefined): MessageStatus | undefined {
  return code === null || code === undefined ? undefined : STATUS_BY_CODE[code];
}

/**
 * The Baileys content of an outgoing message. `recall` finds a recent message by id (to quote or
 * react to it); an unknown one is referred to by id alone, as a message from the other side.
 *
 * @example
 * ```ts
 * const { content, quoted } = toBaileysContent(jid, { type: "text", text: "hi" }, recent);
 * await socket.sendMessage(jid, content, { quoted });
 * ```
 */
export function toBaileysContent(
  to: string,
  message: Exclude<OutgoingMessage, OutgoingMediaMessage>,
  recall: (id: string) => WAMessage | undefined,
): { content: AnyMessageContent; quoted?: WAMessage } {
  const keyOf = (id: string): WAMessageKey =>
    recall(id)?.key ?? { remoteJid: to, id, fromMe: false };
  switch (message.type) {
    case "text": {
      const content = { text: message.text };
      if (!message.quotedMessageId) return { content };
      return { content, quoted: quotedMessage(to, message.quotedMessageId, recall) };
    }
    case "location":
      return {
        content: {
          location: {
            degreesLatitude: message.latitude,
            degreesLongitude: message.longitude,
            ...(message.name !== undefined ? { name: message.name } : {}),
            ...(message.address !== undefined ? { address: message.address } : {}),
          },
        },
      };
    case "reaction":
      return { content: { react: { text: message.emoji, key: keyOf(message.messageId) } } };
    case "contact":
    case "poll":
      return { content: sharedContent(message) };
  }
}

/**
 * The message a reply quotes: a recent one by id, else one from the other side known by id alone.
 *
 * @example
 * ```ts
 * quotedMessage(jid, "3EB0C431", (id) => recent.get(id)).key.id; // "3EB0C431"
 * ```
 */
export function quotedMessage(
  to: string,
  id: string,
  recall: (id: string) => WAMessage | undefined,
): WAMessage {
  return recall(id) ?? { key: { remoteJid: to, id, fromMe: false }, message: { conversation: "" } };
}

/**
 * What the gateway reports of a message received from someone else; `null` for what is not a
 * message to report (protocol messages, key distribution, status broadcasts, empty stubs).
 *
 * @example
 * ```ts
 * socket.ev.on("messages.upsert", ({ messages }) => messages.map(fromWAMessage));
 * ```
 */
export function fromWAMessage(message: WAMessage): IncomingMessage | null {
  const key = message.key;
  const content = normalizeMessageContent(message.message);
  if (!key?.id || !key.remoteJid || !content) return null;
  if (key.remoteJid === "status@broadcast") return null;
  if (content.protocolMessage || isOnlyKeyDistribution(content)) return null;

  const pnJid = [key.remoteJid, key.remoteJidAlt, key.participant, key.participantAlt]
    .find((jid) => jid?.endsWith("@s.whatsapp.net"));
  const group = isJidGroup(key.remoteJid);
  const participant = group
    ? [key.participantAlt, key.participant].find((jid) => jid?.endsWith("@s.whatsapp.net")) ??
      key.participant ?? undefined
    : undefined;
  const base = {
    id: key.id,
    from: key.remoteJid,
    chat: key.remoteJid,
    ...(participant ? { participant: jidNormalizedUser(participant) } : {}),
    fromPhoneNumber: pnJid ? jidDecode(pnJid)?.user ?? null : null,
    pushName: message.pushName ?? null,
    timestamp: new Date(toNumber(message.messageTimestamp) * 1000).toISOString(),
  };
  const text = content.conversation ?? content.extendedTextMessage?.text;
  if (typeof text === "string") {
    const quoted = content.extendedTextMessage?.contextInfo?.stanzaId;
    return { ...base, type: "text", text, ...(quoted ? { quotedMessageId: quoted } : {}) };
  }
  if (content.locationMessage) {
    const location = content.locationMessage;
    return {
      ...base,
      type: "location",
      location: {
        latitude: location.degreesLatitude ?? 0,
        longitude: location.degreesLongitude ?? 0,
        ...(location.name ? { name: location.name } : {}),
        ...(location.address ? { address: location.address } : {}),
      },
    };
  }
  const shared = fromSharedContent(content);
  if (shared) return { ...base, ...shared };
  if (content.reactionMessage?.key?.id) {
    return {
      ...base,
      type: "reaction",
      reaction: {
        messageId: content.reactionMessage.key.id,
        emoji: content.reactionMessage.text ?? "",
      },
    };
  }
  const media = receivedMedia(content);
  if (media) {
    return {
      ...base,
      type: media.kind,
      media: media.media,
      ...(media.caption ? { caption: media.caption } : {}),
      ...(media.quotedMessageId ? { quotedMessageId: media.quotedMessageId } : {}),
    };
  }
  return { ...base, type: "other" };
}

/**
 * The text of a message's content: a text's body, a caption, a poll's question; `null` when it
 * has none.
 */
export function contentText(content: NonNullable<WAMessage["message"]>): string | null {
  return content.conversation ?? content.extendedTextMessage?.text ??
    content.imageMessage?.caption ?? content.videoMessage?.caption ??
    (content.pollCreationMessage ?? content.pollCreationMessageV2 ??
      content.pollCreationMessageV3)?.name ??
    null;
}

function isOnlyKeyDistribution(content: NonNullable<WAMessage["message"]>): boolean {
  const fields = Object.entries(content).filter(([, value]) =>
    value !== null && value !== undefined
  );
  return fields.length > 0 &&
    fields.every(([name]) =>
      name === "senderKeyDistributionMessage" || name === "messageContextInfo"
    );
}
