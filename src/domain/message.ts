import { type IncomingMedia, isMediaKind, type MediaKind, type StagedMedia } from "./media.ts";

/**
 * Messages as the gateway sees them, independent of Baileys: what a caller asks to send, what a
 * connection reports as received, and the status a sent message goes through.
 */

/** What can be sent. `mentions` are user JIDs. */
export type OutgoingMessage =
  | { type: "text"; text: string; quotedMessageId?: string }
  | OutgoingMediaMessage
  | {
    type: "location";
    latitude: number;
    longitude: number;
    name?: string;
    address?: string;
  }
  | {
    type: "reaction";
    /** The message reacted to (in the same chat). */
    messageId: string;
    /** One emoji; an empty string removes an earlier reaction. */
    emoji: string;
  }
  | { type: "contact"; contacts: SharedContact[] }
  | {
    type: "poll";
    /** The question. */
    name: string;
    options: string[];
    /** How many options a voter may pick: 1, up to all of them, or 0 for any number. */
    selectableCount: number;
  };

/** A file to send, staged by the caller, with what goes with it. */
export interface OutgoingMediaMessage {
  type: MediaKind;
  media: StagedMedia;
  caption?: string;
  /** The name a document is shown with. */
  fileName?: string;
  quotedMessageId?: string;
  mentions?: string[];
}

/** What events say was sent: the message, a file by its type, size and hash only. */
export type SentContent =
  | Exclude<OutgoingMessage, OutgoingMediaMessage>
  | (Omit<OutgoingMediaMessage, "media"> & { media: Omit<IncomingMedia, "fileName"> });

/**
 * The content of a sent message as events report it: a staged file's key and path stay inside.
 *
 * @example
 * ```ts
 * sentContent({ type: "text", text: "hi" }); // { type: "text", text: "hi" }
 * ```
 */
export function sentContent(message: OutgoingMessage): SentContent {
  if (!isMediaMessage(message)) return message;
  const { media, ...rest } = message;
  const sha256 = Array.from(media.sha256, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return { ...rest, media: { mimetype: media.mimetype, size: media.size, sha256 } };
}

/** Whether a message to send is a file. */
export function isMediaMessage(message: OutgoingMessage): message is OutgoingMediaMessage {
  return isMediaKind(message.type);
}

/** A contact card shared in a message. */
export interface SharedContact {
  /** The name shown on the card. */
  name: string;
  /** The card itself (vCard 3.0 text). */
  vcard: string;
}

/**
 * A sent message's progress, in order: accepted by WhatsApp's server (`sent`), on the recipient's
 * phone (`delivered`), seen (`read`), a voice note listened to (`played`). `failed` means the
 * server refused it.
 */
export const MESSAGE_STATUSES = [
  "pending",
  "sent",
  "delivered",
  "read",
  "played",
  "failed",
] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/** A message WhatsApp accepted for delivery. */
export interface SentMessage {
  /** WhatsApp's message id (`key.id`). */
  id: string;
  /** The recipient's JID. */
  to: string;
  status: MessageStatus;
  /** ISO timestamp of when it was sent. */
  timestamp: string;
}

/** A message someone else sent to the session's account. */
export interface IncomingMessage {
  id: string;
  /** The chat's JID (the sender's, for a 1:1 chat). */
  from: string;
  /** The chat's JID, as `from`: the group's, for a group message. */
  chat: string;
  /**
   * Who sent a group message: their phone number JID when WhatsApp tells it, else their LID.
   * Absent in 1:1 chats.
   */
  participant?: string;
  /** The sender's phone number (digits), when WhatsApp tells it. */
  fromPhoneNumber: string | null;
  /** The sender's display name, when WhatsApp tells it. */
  pushName: string | null;
  /** ISO timestamp WhatsApp gave the message. */
  timestamp: string;
  type: "text" | "location" | "reaction" | "contact" | "poll" | MediaKind | "other";
  /** The text, for `text` messages (and the caption-less body of replies). */
  text?: string;
  /** A media message's caption. */
  caption?: string;
  /** What a media message's file is; download it from `mediaPath`. */
  media?: IncomingMedia;
  /** The API path of a media message's file (`GET`). */
  mediaPath?: string;
  /** The quoted message's id, when the text is a reply. */
  quotedMessageId?: string;
  location?: { latitude: number; longitude: number; name?: string; address?: string };
  reaction?: { messageId: string; emoji: string };
  contacts?: SharedContact[];
  poll?: { name: string; options: string[]; selectableCount: number };
}

/** A receipt: a message of this session changed status. */
export interface MessageStatusUpdate {
  id: string;
  /** The chat's JID. */
  chat: string;
  status: MessageStatus;
}

/** Whether a phone number has a WhatsApp account. */
export interface NumberCheck {
  /** The number as asked (digits only). */
  phoneNumber: string;
  exists: boolean;
  /** The account's JID when it exists. */
  jid: string | null;
}

const USER_SERVER = "s.whatsapp.net";
/** E.164 numbers have at most 15 digits; none has fewer than 6 with the country code. */
const PHONE_PATTERN = /^\+?(\d{6,15})$/;
const JID_PATTERN = /^(\d{6,15})(?::\d{1,3})?@(?:s\.whatsapp\.net|c\.us)$/;
const GROUP_RECIPIENT = /^\d{5,20}(?:-\d{5,15})?@g\.us$/;

/**
 * The JID of a recipient given as a phone number (digits, optional leading `+`), a user JID
 * (`<digits>@s.whatsapp.net`, also the legacy `@c.us` and a `:device` suffix) or a group JID
 * (`<digits>@g.us`, also the older `<digits>-<digits>@g.us`); `null` when it is none of them.
 * LIDs are not accepted.
 *
 * @example
 * ```ts
 * normalizeRecipient("+15550001111"); // "15550001111@s.whatsapp.net"
 * normalizeRecipient("15550001111:3@s.whatsapp.net"); // "15550001111@s.whatsapp.net"
 * normalizeRecipient("120363012345678901@g.us"); // "120363012345678901@g.us"
 * normalizeRecipient("hello"); // null
 * ```
 */
export function normalizeRecipient(value: string): string | null {
  const trimmed = value.trim();
  if (GROUP_RECIPIENT.test(trimmed)) return trimmed;
  const digits = PHONE_PATTERN.exec(trimmed)?.[1] ?? JID_PATTERN.exec(trimmed)?.[1];
  return digits ? `${digits}@${USER_SERVER}` : null;
}

/**
 * The digits of a phone number given with an optional `+`; `null` when it is not one.
 *
 * @example
 * ```ts
 * normalizePhoneNumber("+15550001111"); // "15550001111"
 * ```
 */
export function normalizePhoneNumber(value: string): string | null {
  return PHONE_PATTERN.exec(value.trim())?.[1] ?? null;
}
