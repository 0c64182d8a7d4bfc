/**
 * The messages between the gateway's main thread and a connection worker. Both sides are this
 * codebase, so the shapes are typed rather than validated; the only data that crosses are plain
 * values (structured clone), never functions or sockets.
 */
import type { ConnectionStatusUpdate } from "../../domain/connection.ts";
import type { IncomingMessage, MessageStatusUpdate } from "../../domain/message.ts";
import type { MessagePatch, StoredMessage } from "../../domain/message_store.ts";
import type { MessageAction, MessageActivity } from "../../domain/message_activity.ts";
import type { AccountOperation } from "../../domain/account_operations.ts";
import type { AccountEvent } from "../../domain/account_events.ts";
import {
  GroupNotFoundError,
  InsufficientStorageError,
  QrNotAvailableError,
  SessionStateError,
  ValidationError,
  WhatsAppForbiddenError,
  WhatsAppRequestError,
} from "../../domain/errors.ts";
import type { SessionStatus } from "../../domain/session.ts";
import type { WhatsAppSettings } from "../baileys_connection_factory.ts";
import type { LoggerOptions } from "../../logger.ts";
import type { ThreadSubstitutions } from "../substitution_status.ts";

/** What a worker needs to build connections like the main thread would. */
export interface WorkerSettings {
  whatsapp: WhatsAppSettings;
  log: Pick<LoggerOptions, "level" | "format">;
  /** The `VerificationCounters` buffer every thread counts its signature checks in. */
  verificationCounters: SharedArrayBuffer;
}

/** The `SessionConnection` methods a worker runs, with their arguments. */
export type ConnectionCall =
  | {
    method: "create";
    args: [{
      sessionId: string;
      loggerBindings: Record<string, unknown>;
      /** Whether the session has a message store to reach through `messages` requests. */
      messages: boolean;
    }];
  }
  | { method: "start" | "stop" | "logout"; args: [] }
  | {
    method: "sendMessage";
    args: [to: string, message: unknown, options?: { messageId?: string }];
  }
  | { method: "checkNumbers"; args: [phoneNumbers: string[]] }
  | { method: "perform"; args: [action: MessageAction] }
  | { method: "requestPairingCode"; args: [phoneNumber: string] }
  | { method: "run"; args: [operation: AccountOperation] };

/** The `AuthFiles` operations a worker asks the main thread to run on a session's folder. */
export type AuthCall =
  | { op: "exists" | "list" | "delete"; args: [] }
  | { op: "read"; args: [name: string] }
  | { op: "write"; args: [changes: ReadonlyMap<string, Uint8Array | null>] };

/** The `SessionMessages` operations a worker asks the main thread to run on a session's messages. */
export type MessagesCall =
  | { op: "get"; args: [messageId: string] }
  | { op: "put"; args: [messages: readonly StoredMessage[]] }
  | { op: "patch"; args: [patches: readonly MessagePatch[]] };

export type ToWorker =
  | { type: "init"; settings: WorkerSettings }
  | ({ type: "call"; call: number; connection: number } & ConnectionCall)
  /** The answer to an `auth` or `messages` request. */
  | { type: "store-reply"; request: number; result: Result };

export type FromWorker =
  /** Baileys is loaded, with what became of the runtime substitutions there. */
  | { type: "ready"; substitutions: ThreadSubstitutions }
  /** An uncaught error (logged in the worker): the worker closes itself after this message. */
  | { type: "fatal"; error: SerializedError }
  | { type: "reply"; call: number; result: Result; qr: string | null }
  | { type: "event"; connection: number; event: ConnectionEvent; qr: string | null }
  | ({ type: "auth"; request: number; connection: number } & AuthCall)
  | ({ type: "messages"; request: number; connection: number } & MessagesCall);

/** What a connection reports, one per `ConnectionListener` method. */
export type ConnectionEvent =
  | { kind: "status"; update: ConnectionStatusUpdate }
  | { kind: "qr"; qr: string }
  | { kind: "message"; message: IncomingMessage }
  | { kind: "message-status"; update: MessageStatusUpdate }
  | { kind: "activity"; activity: MessageActivity }
  | { kind: "account-event"; event: AccountEvent };

export type Result = { ok: true; value: unknown } | { ok: false; error: SerializedError };

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
}

/**
 * Statuses after which a connection does nothing more (the session manager drops it too): the
 * worker forgets it, and `start` would need a new connection.
 */
export const FINAL_STATUSES: ReadonlySet<SessionStatus> = new Set([
  "logged_out",
  "failed",
  "disconnected",
]);

/** An error as plain data, keeping the code the HTTP layer maps to a status. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      ...(typeof code === "string" ? { code } : {}),
    };
  }
  return { name: "Error", message: String(error) };
}

/**
 * The error a serialized one stands for: the gateway's own errors get their class back, so a
 * failed send answers the same status whichever thread ran it.
 *
 * @example
 * ```ts
 * reviveError({ name: "QrNotAvailableError", message: "no QR", code: "qr_not_available" });
 * // QrNotAvailableError
 * ```
 */
export function reviveError(error: SerializedError): Error {
  switch (error.code) {
    case "qr_not_available":
      return new QrNotAvailableError(error.message);
    case "whatsapp_error":
      return new WhatsAppRequestError(error.message);
    case "invalid_input":
      return new ValidationError(error.message);
    case "insufficient_storage":
      return new InsufficientStorageError(error.message);
    case "group_not_found":
      return new GroupNotFoundError(error.message);
    case "whatsapp_forbidden":
      return new WhatsAppForbiddenError(error.message);
  }
  // A state conflict keeps whichever code it was raised with (session_not_connected, …).
  if (error.name === "SessionStateError" || error.code === "session_state_conflict") {
    return new SessionStateError(error.message, error.code);
  }
  const revived = new Error(error.message);
  revived.name = error.name;
  return revived;
}
