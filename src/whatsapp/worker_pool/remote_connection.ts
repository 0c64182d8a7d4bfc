import type {
  ConnectionListener,
  SendOptions,
  SessionConnection,
} from "../../domain/connection.ts";
import type { SessionMessages } from "../../domain/message_store.ts";
import type { MessageAction } from "../../domain/message_activity.ts";
import type { AccountOperation } from "../../domain/account_operations.ts";
import { SessionStateError } from "../../domain/errors.ts";
import type { NumberCheck, OutgoingMessage, SentMessage } from "../../domain/message.ts";
import type { AuthFiles } from "../../domain/session_store.ts";
import { type ConnectionCall, type ConnectionEvent, FINAL_STATUSES } from "./protocol.ts";

export interface RemoteConnectionOptions {
  call: (call: ConnectionCall) => Promise<{ value: unknown; qr: string | null }>;
  auth: AuthFiles;
  messages?: SessionMessages;
  listener: ConnectionListener;
  onLost: (error: Error) => void;
  create: { sessionId: string; loggerBindings: Record<string, unknown>; messages: boolean };
  /** Drops the connection from its worker's table once it has ended. */
  forget: () => void;
}

/** A `SessionConnection` whose Baileys socket lives in a worker; it forwards every call there. */
export class RemoteConnection implements SessionConnection {
  readonly auth: AuthFiles;
  readonly messages?: SessionMessages;
  readonly #options: RemoteConnectionOptions;
  #qr: string | null = null;
  #ended = false;

  constructor(options: RemoteConnectionOptions) {
    this.#options = options;
    this.auth = options.auth;
    this.messages = options.messages;
  }

  get qr(): string | null {
    return this.#qr;
  }

  async start(): Promise<void> {
    try {
      await this.#run({ method: "create", args: [this.#options.create] });
      await this.#run({ method: "start", args: [] });
    } catch (error) {
      // The session manager drops a connection that failed to start: free it in the worker too.
      await this.#finish({ method: "stop", args: [] }).catch(() => {});
      throw error;
    }
  }

  async stop(): Promise<void> {
    await this.#finish({ method: "stop", args: [] });
  }

  async logout(): Promise<void> {
    await this.#finish({ method: "logout", args: [] });
  }

  async sendMessage(
    to: string,
    message: OutgoingMessage,
    options?: SendOptions,
  ): Promise<SentMessage> {
    return await this.#run({ method: "sendMessage", args: [to, message, options] }) as SentMessage;
  }

  async perform(action: MessageAction): Promise<void> {
    await this.#run({ method: "perform", args: [action] });
  }

  async checkNumbers(phoneNumbers: string[]): Promise<NumberCheck[]> {
    return await this.#run({ method: "checkNumbers", args: [phoneNumbers] }) as NumberCheck[];
  }

  async requestPairingCode(phoneNumber: string): Promise<string> {
    return await this.#run({ method: "requestPairingCode", args: [phoneNumber] }) as string;
  }

  async run(operation: AccountOperation): Promise<unknown> {
    return await this.#run({ method: "run", args: [operation] });
  }

  /** Passes on what the worker's connection reported. */
  deliver(event: ConnectionEvent, qr: string | null): void {
    this.#qr = qr;
    const listener = this.#options.listener;
    switch (event.kind) {
      case "status":
        if (FINAL_STATUSES.has(event.update.status)) this.#end();
        listener.onStatus(event.update);
        return;
      case "qr":
        listener.onQr(event.qr);
        return;
      case "message":
        listener.onMessage(event.message);
        return;
      case "message-status":
        listener.onMessageStatus(event.update);
        return;
      case "activity":
        listener.onActivity(event.activity);
        return;
      case "account-event":
        listener.onAccountEvent(event.event);
    }
  }

  /** The worker died: this connection is gone, whoever owns it decides what follows. */
  lost(error: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#qr = null;
    this.#options.onLost(error);
  }

  async #finish(call: ConnectionCall): Promise<void> {
    if (this.#ended) return;
    try {
      await this.#run(call);
    } finally {
      this.#end();
    }
  }

  async #run(call: ConnectionCall): Promise<unknown> {
    if (this.#ended) {
      throw new SessionStateError("The WhatsApp connection is not open", "session_not_connected");
    }
    const { value, qr } = await this.#options.call(call);
    this.#qr = qr;
    return value;
  }

  #end(): void {
    this.#ended = true;
    this.#qr = null;
    this.#options.forget();
  }
}
