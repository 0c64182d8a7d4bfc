/**
 * A test implementation of the WhatsApp port (`ConnectionFactory`): connections that link at
 * once, record what is sent through them, and let a test play incoming messages and receipts.
 * For HTTP and event tests that need a connected session but not the Baileys protocol (the e2e
 * tests use the real adapter against the fake WhatsApp server).
 */
import type {
  ConnectionFactory,
  ConnectionListener,
  ConnectionOptions,
  SessionConnection,
} from "../../src/domain/connection.ts";
import {
  type IncomingMessage,
  isMediaMessage,
  type MessageStatus,
  type NumberCheck,
  type OutgoingMessage,
  type SentMessage,
} from "../../src/domain/message.ts";
import type { MessageAction } from "../../src/domain/message_activity.ts";
import type { StagedMedia } from "../../src/domain/media.ts";
import { createDecipheriv } from "node:crypto";
import type { AccountOperation } from "../../src/domain/account_operations.ts";

/** A message sent through a scripted connection. */
export interface ScriptedSend {
  sessionId: string;
  to: string;
  message: OutgoingMessage;
  id: string;
  /** A media message's file, read from where it was staged while the send ran. */
  file?: Uint8Array;
}

export class ScriptedConnection implements SessionConnection {
  qr: string | null = null;
  #counter = 0;

  constructor(
    readonly sessionId: string,
    readonly listener: ConnectionListener,
    readonly factory: ScriptedConnectionFactory,
  ) {}

  start(): Promise<void> {
    if (this.factory.linkOnStart) {
      this.listener.onStatus({
        status: "connected",
        account: { phoneNumber: "15550001111", pushName: "Scripted" },
      });
    } else {
      this.qr = "scripted-qr";
      this.listener.onStatus({ status: "qr" });
    }
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  logout(): Promise<void> {
    return Promise.resolve();
  }

  async sendMessage(to: string, message: OutgoingMessage): Promise<SentMessage> {
    const id = `SCRIPTED${this.sessionId.toUpperCase().replace(/[^A-Z0-9]/g, "")}${++this
      .#counter}`;
    const file = isMediaMessage(message) ? await readStaged(message.media) : undefined;
    this.factory.sent.push({
      sessionId: this.sessionId,
      to,
      message,
      id,
      ...(file ? { file } : {}),
    });
    return { id, to, status: "sent", timestamp: new Date().toISOString() };
  }

  perform(action: MessageAction): Promise<void> {
    this.factory.actions.push({ sessionId: this.sessionId, action });
    return Promise.resolve();
  }

  requestPairingCode(phoneNumber: string): Promise<string> {
    this.factory.pairingCodeRequests.push(phoneNumber);
    return Promise.resolve("SCRIPTED");
  }

  run(operation: AccountOperation): Promise<unknown> {
    this.factory.operations.push({ sessionId: this.sessionId, operation });
    try {
      return Promise.resolve(this.factory.answer(operation));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  checkNumbers(phoneNumbers: string[]): Promise<NumberCheck[]> {
    return Promise.resolve(phoneNumbers.map((phoneNumber) => {
      const exists = this.factory.onWhatsApp.has(phoneNumber);
      return { phoneNumber, exists, jid: exists ? `${phoneNumber}@s.whatsapp.net` : null };
    }));
  }

  /** Plays a text from `fromPhoneNumber`, as Baileys' `messages.upsert` would report it. */
  receiveText(fromPhoneNumber: string, text: string, id = crypto.randomUUID()): IncomingMessage {
    const message: IncomingMessage = {
      id,
      from: `${fromPhoneNumber}@s.whatsapp.net`,
      chat: `${fromPhoneNumber}@s.whatsapp.net`,
      fromPhoneNumber,
      pushName: null,
      timestamp: new Date().toISOString(),
      type: "text",
      text,
    };
    this.listener.onMessage(message);
    return message;
  }

  /** Plays a receipt for a message this connection sent. */
  receipt(id: string, chat: string, status: MessageStatus): void {
    this.listener.onMessageStatus({ id, chat, status });
  }

  /** Reports the connection lost (the session goes `reconnecting`). */
  drop(): void {
    this.listener.onStatus({
      status: "reconnecting",
      disconnect: { code: 428, reason: "connection_lost", message: null },
    });
  }
}

export class ScriptedConnectionFactory implements ConnectionFactory {
  /** Every connection made, latest last. */
  readonly connections: ScriptedConnection[] = [];
  readonly sent: ScriptedSend[] = [];
  /** Phone numbers pairing codes were requested for, in order. */
  readonly pairingCodeRequests: string[] = [];
  /** Every `perform` call (edits, deletes, reads, presence), in order. */
  readonly actions: { sessionId: string; action: MessageAction }[] = [];
  /** Every group, contact or profile operation run, in order. */
  readonly operations: { sessionId: string; operation: AccountOperation }[] = [];
  /** What `run` answers (or throws) for an operation; `null` by default. */
  answer: (operation: AccountOperation) => unknown = () => null;
  /** Phone numbers (digits) `checkNumbers` says have WhatsApp. */
  readonly onWhatsApp = new Set<string>();
  /** Whether a started connection links at once (else it waits at `qr`). */
  linkOnStart = true;

  create(options: ConnectionOptions): SessionConnection {
    const connection = new ScriptedConnection(options.sessionId, options.listener, this);
    this.connections.push(connection);
    return connection;
  }

  /** The latest connection of a session. */
  of(sessionId: string): ScriptedConnection {
    const connection = this.connections.findLast((c) => c.sessionId === sessionId);
    if (!connection) throw new Error(`no connection for ${sessionId}`);
    return connection;
  }
}

/** The plaintext of a staged file (AES-256-CTR under the key the message carries). */
async function readStaged(media: StagedMedia): Promise<Uint8Array> {
  const decipher = createDecipheriv("aes-256-ctr", media.key, media.iv);
  const encrypted = await Deno.readFile(media.path);
  return new Uint8Array(Buffer.concat([decipher.update(encrypted), decipher.final()]));
}
