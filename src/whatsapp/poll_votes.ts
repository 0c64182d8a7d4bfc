/**
 * Poll votes: a vote arrives encrypted with the poll's secret (its `messageContextInfo
 * .messageSecret`), which only the stored poll has, and names the chosen options by their
 * SHA-256. Baileys 7 no longer decrypts them itself.
 */
import { createHash } from "node:crypto";
import { decryptPollVote, jidNormalizedUser, proto, type WAMessage } from "@whiskeysockets/baileys";

/** The options of a poll's content, in order; empty when it is not a poll. */
export function pollOptions(content: proto.IMessage): string[] {
  const poll = content.pollCreationMessage ?? content.pollCreationMessageV2 ??
    content.pollCreationMessageV3;
  return (poll?.options ?? []).map((option) => option.optionName ?? "");
}

/**
 * The option names a vote selects, decrypted with the stored poll; `null` when it does not
 * decrypt. The vote's author and the poll's may be named by phone number or LID on either side,
 * so each pairing is tried (a wrong one fails the GCM tag, it cannot decrypt to garbage).
 *
 * @example
 * ```ts
 * decryptVote(message, storedPollContent, [socket.user.id, socket.user.lid]); // ["Tea"]
 * ```
 */
export function decryptVote(
  vote: WAMessage,
  poll: proto.IMessage,
  ownJids: readonly (string | null | undefined)[],
): string[] | null {
  const update = vote.message?.pollUpdateMessage;
  const secret = poll.messageContextInfo?.messageSecret;
  const pollKey = update?.pollCreationMessageKey;
  if (!update?.vote || !secret || !pollKey?.id) return null;
  const own = ownJids.filter((jid): jid is string => !!jid).map(jidNormalizedUser);
  const key = vote.key;
  const voters = unique([key.participantAlt, key.remoteJidAlt, key.participant, key.remoteJid]);
  const creators = pollKey.fromMe ? unique(own) : unique([pollKey.participant, pollKey.remoteJid]);
  for (const voterJid of key.fromMe ? unique(own) : voters) {
    for (const pollCreatorJid of creators) {
      let decrypted: proto.Message.PollVoteMessage;
      try {
        decrypted = decryptPollVote(update.vote, {
          pollCreatorJid,
          pollMsgId: pollKey.id,
          pollEncKey: secret,
          voterJid,
        });
      } catch {
        continue;
      }
      const byHash = new Map(
        pollOptions(poll).map((name) => [createHash("sha256").update(name).digest("hex"), name]),
      );
      return (decrypted.selectedOptions ?? []).map((hash) =>
        byHash.get(Buffer.from(hash).toString("hex")) ?? "unknown option"
      );
    }
  }
  return null;
}

function unique(jids: (string | null | undefined)[]): string[] {
  return [...new Set(jids.filter((jid): jid is string => !!jid).map(jidNormalizedUser))];
}
