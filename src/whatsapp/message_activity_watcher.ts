import {
  normalizeMessageContent,
  proto,
  toNumber,
  type WAMessage,
  WAMessageStubType,
} from "@whiskeysockets/baileys";
import type { ConnectionListener } from "../domain/connection.ts";
import type { MessageActivity } from "../domain/message_activity.ts";
import type { SessionMessages } from "../domain/message_store.ts";
import type { Logger } from "../logger.ts";
import type { WASocket } from "./baileys_connection.ts";
import type { MessageRecorder } from "./message_recorder.ts";
import { decryptVote } from "./poll_votes.ts";
import { storedContent } from "./stored_messages.ts";
import { contentText } from "./message_content.ts";

/**
 * Watches a socket for what changes messages after they were sent: edits and deletions for
 * everyone (Baileys' `messages.update`) and poll votes (a `pollUpdateMessage`, decrypted with the
 * stored poll). Each is applied to the message store, then reported, in the order of the
 * recorder's queue, so that a change never overtakes the message it changes.
 */
export class MessageActivityWatcher {
  readonly #messages?: SessionMessages;
  readonly #recorder: MessageRecorder;
  readonly #listener: ConnectionListener;
  readonly #logger: Logger;

  constructor(options: {
    messages?: SessionMessages;
    recorder: MessageRecorder;
    listener: ConnectionListener;
    logger: Logger;
  }) {
    this.#messages = options.messages;
    this.#recorder = options.recorder;
    this.#listener = options.listener;
    this.#logger = options.logger;
  }

  /** Starts watching `socket`; `current` tells whether it is still the connection's socket. */
  watch(socket: WASocket, current: () => boolean): void {
    socket.ev.on("messages.update", (updates) => {
      for (const { key, update } of updates) {
        if (!key.id || !key.remoteJid || !current()) continue;
        const at = new Date(
          toNumber(update.messageTimestamp ?? Math.floor(Date.now() / 1000)) * 1000,
        );
        const edited = update.message?.editedMessage?.message;
        const base = { messageId: key.id, chat: key.remoteJid, fromMe: key.fromMe ?? false };
        if (edited) {
          const text = contentText(normalizeMessageContent(edited) ?? edited);
          this.#apply(
            { id: key.id, content: proto.Message.encode(edited).finish(), text, editedAt: +at },
            { kind: "message.edited", ...base, text, at: at.toISOString() },
          );
        } else if (update.messageStubType === WAMessageStubType.REVOKE) {
          this.#apply(
            { id: key.id, content: new Uint8Array(0), text: null, deletedAt: +at },
            { kind: "message.deleted", ...base, at: at.toISOString() },
          );
        }
      }
    });
    socket.ev.on("messages.upsert", ({ messages, type }) => {
      if (type !== "notify" || !current()) return;
      for (const message of messages) {
        if (message.message?.pollUpdateMessage) this.#onVote(message, socket);
      }
    });
  }

  #apply(patch: Parameters<SessionMessages["patch"]>[0][number], activity: MessageActivity) {
    this.#recorder.enqueue(async () => {
      try {
        await this.#messages?.patch([patch]);
      } catch (error) {
        this.#logger.error({ err: error, messageId: patch.id }, "storing a change failed");
      }
      this.#report(activity);
    });
  }

  #onVote(vote: WAMessage, socket: WASocket): void {
    const pollKey = vote.message!.pollUpdateMessage!.pollCreationMessageKey;
    if (!pollKey?.id || !vote.key.remoteJid) return;
    const pollId = pollKey.id;
    this.#recorder.enqueue(async () => {
      const poll = await this.#messages?.get(pollId).catch(() => undefined);
      if (!poll) {
        this.#logger.warn({ pollId }, "a vote for a poll not in the message store; dropped");
        return;
      }
      const selected = decryptVote(vote, storedContent(poll), [socket.user?.id, socket.user?.lid]);
      if (!selected) {
        this.#logger.warn({ pollId }, "a poll vote did not decrypt; dropped");
        return;
      }
      const seconds = toNumber(vote.messageTimestamp ?? Math.floor(Date.now() / 1000));
      this.#report({
        kind: "poll.vote",
        pollMessageId: pollId,
        chat: vote.key.remoteJid!,
        voter: vote.key.participant || vote.key.remoteJid!,
        selectedOptions: selected,
        at: new Date(seconds * 1000).toISOString(),
      });
    });
  }

  #report(activity: MessageActivity): void {
    try {
      this.#listener.onActivity(activity);
    } catch (error) {
      this.#logger.error({ err: error }, "connection listener failed");
    }
  }
}
