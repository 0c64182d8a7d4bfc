/**
 * What a simulated contact's phone sends besides texts, built the way WhatsApp clients build
 * them (read from Baileys' compiled `messages.js` and `process-message.js`): an edit or a
 * deletion of its own message (a `protocolMessage`), and a vote on a poll it received, encrypted
 * with the poll's secret.
 */
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import { aesEncryptGCM, hmacSign, proto } from "@whiskeysockets/baileys";

/** The key of a message the contact sent to `accountJid`, from the contact's point of view. */
const ownKey = (accountJid: string, id: string) => ({ remoteJid: accountJid, fromMe: true, id });

/** The contact edits its message `id` to `text`. */
export function editOf(accountJid: string, id: string, text: string): proto.IMessage {
  return {
    protocolMessage: {
      key: ownKey(accountJid, id),
      type: proto.Message.ProtocolMessage.Type.MESSAGE_EDIT,
      editedMessage: { conversation: text },
      timestampMs: Date.now(),
    },
  };
}

/** The contact deletes its message `id` for everyone. */
export function revokeOf(accountJid: string, id: string): proto.IMessage {
  return {
    protocolMessage: {
      key: ownKey(accountJid, id),
      type: proto.Message.ProtocolMessage.Type.REVOKE,
    },
  };
}

/**
 * The contact (`voterJid`) votes `options` on poll `pollId`, which `creatorJid` sent it: the
 * selected options' SHA-256, encrypted (AES-256-GCM) with a key derived from the poll's secret.
 */
export function voteOf(
  poll: proto.IMessage,
  pollId: string,
  creatorJid: string,
  voterJid: string,
  options: string[],
): proto.IMessage {
  const secret = poll.messageContextInfo?.messageSecret;
  if (!secret) throw new Error("the poll has no secret");
  const vote = proto.Message.PollVoteMessage.encode({
    selectedOptions: options.map((name) => createHash("sha256").update(name).digest()),
  }).finish();
  const sign = Buffer.concat([
    Buffer.from(pollId),
    Buffer.from(creatorJid),
    Buffer.from(voterJid),
    Buffer.from("Poll Vote"),
    new Uint8Array([1]),
  ]);
  const key = hmacSign(sign, hmacSign(Buffer.from(secret), new Uint8Array(32), "sha256"));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const aad = Buffer.from(`${pollId}\u0000${voterJid}`);
  return {
    pollUpdateMessage: {
      pollCreationMessageKey: { remoteJid: creatorJid, fromMe: false, id: pollId },
      vote: { encPayload: aesEncryptGCM(vote, key, iv, aad), encIv: iv },
      senderTimestampMs: Date.now(),
    },
  };
}
