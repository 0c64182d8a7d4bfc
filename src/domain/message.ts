import { z } from "zod";

/** Digits of a phone number in international format, without "+". */
const PHONE_DIGITS = /^[1-9]\d{5,14}$/;

/**
 * A recipient as callers give it — a phone number (`+15550009999`, `1 555 000-9999`) or a user
 * JID (`15550009999@s.whatsapp.net`, `123…@lid`) — normalized to a JID.
 */
export const RecipientSchema = z
  .string()
  .trim()
  .max(64)
  .transform((value, ctx) => {
    const jid = /^(\d+)@(s\.whatsapp\.net|lid)$/.exec(value);
    if (jid) return value;
    const digits = value.replace(/^\+/, "").replace(/[\s().-]/g, "");
    if (PHONE_DIGITS.test(digits)) return `${digits}@s.whatsapp.net`;
    ctx.addIssue({
      code: "custom",
      message: "must be a phone number in international format or a user JID",
    });
    return z.NEVER;
  });

export const TextMessageSchema = z.object({
  type: z.literal("text"),
  text: z.string().min(1).max(65_536),
  /** The id of a message in the same chat to quote. */
  quotedMessageId: z.string().min(1).max(128).optional(),
}).strict();

export const LocationMessageSchema = z.object({
  type: z.literal("location"),
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
  name: z.string().max(1_000).optional(),
}).strict();

export const ReactionMessageSchema = z.object({
  type: z.literal("reaction"),
  /** The message reacted to, in the same chat. */
  messageId: z.string().min(1).max(128),
  /** Whether that message was sent by this session (default) or received. */
  fromMe: z.boolean().default(true),
  /** The emoji; an empty string removes the reaction. */
  emoji: z.string().max(32),
}).strict();

/** What a session can send. */
export const OutgoingMessageSchema = z.discriminatedUnion("type", [
  TextMessageSchema,
  LocationMessageSchema,
  ReactionMessageSchema,
]);

export type OutgoingMessage = z.infer<typeof OutgoingMessageSchema>;

/** What WhatsApp said of a message the gateway sent. */
export interface SentMessage {
  id: string;
  to: string;
  /** `pending` until the server acknowledges it, then `server_ack`, `delivered`, `read`. */
  status: "pending" | "server_ack" | "delivered" | "read" | "error";
  timestamp: string;
}

/** A message a contact sent to a session. */
export interface ReceivedMessage {
  id: string;
  /** The chat's JID (the sender, for 1:1 chats). */
  from: string;
  /** The sender's phone-number JID when WhatsApp addressed the chat by LID, else `null`. */
  fromAlt: string | null;
  pushName: string | null;
  /** The text, for texts; `null` for other kinds of messages. */
  text: string | null;
  /** Baileys' name of the message kind, e.g. `conversation`, `imageMessage`. */
  kind: string;
  timestamp: string;
}

/** WhatsApp's news about a message a session sent. */
export interface MessageStatusUpdate {
  id: string;
  to: string;
  status: SentMessage["status"];
}
