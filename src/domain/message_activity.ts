/**
 * What happens to messages after they were sent, in either direction: votes on a poll, edits,
 * deletions for everyone. A connection reports them (`ConnectionListener.onActivity`); the
 * session manager publishes them as `poll.vote`, `message.edited` and `message.deleted`.
 */
export type MessageActivity = PollVote | MessageEdit | MessageDeletion;

/** Someone voted on a poll (or changed their vote): the options now chosen, decrypted. */
export interface PollVote {
  kind: "poll.vote";
  /** The poll's message id. */
  pollMessageId: string;
  chat: string;
  /** The voter's JID. */
  voter: string;
  /** The option names now selected (empty when the vote was withdrawn). */
  selectedOptions: string[];
  /** ISO time of the vote. */
  at: string;
}

/** A text was edited, by its sender (this account, or the other side). */
export interface MessageEdit {
  kind: "message.edited";
  messageId: string;
  chat: string;
  fromMe: boolean;
  /** The new text. */
  text: string | null;
  at: string;
}

/** A message was deleted for everyone, by its sender. */
export interface MessageDeletion {
  kind: "message.deleted";
  messageId: string;
  chat: string;
  fromMe: boolean;
  at: string;
}

/** What a session does to a chat or a message besides sending. */
export type MessageAction =
  | { kind: "edit"; key: MessageKeyRef; text: string }
  | { kind: "delete"; key: MessageKeyRef }
  | { kind: "read"; keys: MessageKeyRef[] }
  | { kind: "presence"; chat: string; state: ChatPresence };

/** Typing, recording a voice note, or stopped. */
export type ChatPresence = "typing" | "recording" | "paused";

/** A message's key, as WhatsApp needs it to act on the message. */
export interface MessageKeyRef {
  remoteJid: string;
  fromMe: boolean;
  id: string;
  participant?: string;
}
