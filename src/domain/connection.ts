import type { Logger } from "../logger.ts";
import type {
  IncomingMessage,
  MessageStatusUpdate,
  NumberCheck,
  OutgoingMessage,
  SentMessage,
} from "./message.ts";
import type { DisconnectInfo, SessionStatus } from "./session.ts";
import type { SessionId } from "./session_id.ts";
import type { AuthFiles } from "./session_store.ts";
import type { SessionMessages } from "./message_store.ts";
import type { MessageAction, MessageActivity } from "./message_activity.ts";
import type { AccountOperation } from "./account_operations.ts";
import type { AccountEvent } from "./account_events.ts";

/**
 * The port through which the session manager drives a WhatsApp connection. The Baileys adapter
 * in `src/whatsapp/` implements it; the domain never sees a socket.
 */
export interface ConnectionFactory {
  /** Builds (but does not start) the connection of one session. */
  create(options: ConnectionOptions): SessionConnection;
}

export interface ConnectionOptions {
  sessionId: SessionId;
  /** Where the connection keeps its credentials. */
  auth: AuthFiles;
  /**
   * Where the connection keeps the messages it sends and receives, and finds them again (to
   * answer a retry receipt, decrypt a poll vote). Without it nothing is stored.
   */
  messages?: SessionMessages;
  logger: Logger;
  /** Receives everything the connection reports. Must not throw. */
  listener: ConnectionListener;
}

/** One session's link to WhatsApp. */
export interface SessionConnection {
  /** Opens the connection; it then keeps itself connected (reconnecting with backoff). */
  start(): Promise<void>;
  /** Closes the connection without logging out; credentials stay. No reconnect follows. */
  stop(): Promise<void>;
  /** Logs the device out on WhatsApp (when linked) and closes. Credentials become invalid. */
  logout(): Promise<void>;
  /** The QR string waiting to be scanned, if any. */
  readonly qr: string | null;
  /**
   * Sends a message to a user JID (`<digits>@s.whatsapp.net`); resolves once WhatsApp's server
   * has it. Only called while the connection reports `connected`.
   */
  sendMessage(to: string, message: OutgoingMessage, options?: SendOptions): Promise<SentMessage>;
  /**
   * Edits or deletes a sent message, marks messages read, or shows typing in a chat; resolves
   * once WhatsApp's server has it. Only called while the connection reports `connected`.
   */
  perform(action: MessageAction): Promise<void>;
  /** Which of these phone numbers (digits) have a WhatsApp account. One answer per number. */
  checkNumbers(phoneNumbers: string[]): Promise<NumberCheck[]>;
  /**
   * Runs a group, contact, presence or profile operation; resolves with its result (see
   * `AccountOperationResult`). Only called while the connection reports `connected`.
   */
  run(operation: AccountOperation): Promise<unknown>;
  /**
   * Asks WhatsApp for a code that the phone of `phoneNumber` (digits) can type instead of
   * scanning the QR code. Only called while a QR code is pending.
   */
  requestPairingCode(phoneNumber: string): Promise<string>;
}

export interface SendOptions {
  /**
   * The message id to send with (a retry of an idempotent send uses the id it recorded, which
   * WhatsApp clients deduplicate); a new one when absent.
   */
  messageId?: string;
}

/** What a connection reports to the session manager. */
export interface ConnectionListener {
  /** The connection changed state. */
  onStatus(update: ConnectionStatusUpdate): void;
  /** A new QR code is waiting to be scanned. */
  onQr(qr: string): void;
  /** Someone else sent the account a message (new, not history, not one of our own). */
  onMessage(message: IncomingMessage): void;
  /** A receipt: a message changed status. */
  onMessageStatus(update: MessageStatusUpdate): void;
  /** A poll vote, an edit or a deletion (already applied to the message store). */
  onActivity(activity: MessageActivity): void;
  /** A group changed, its participants changed, or a contact's presence did. */
  onAccountEvent(event: AccountEvent): void;
}

export interface ConnectionStatusUpdate {
  status: SessionStatus;
  /** Set when the connection is linked and knows its account. */
  account?: { phoneNumber: string; pushName: string | null };
  /** Set when a connection ended. */
  disconnect?: Omit<DisconnectInfo, "at">;
}
