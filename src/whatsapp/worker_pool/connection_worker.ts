/**
 * Entry point of a connection worker: a thread that runs Baileys sockets for some of the sessions.
 * Logins are CPU-bound (Baileys checks the server's certificates with pure-JavaScript XEdDSA), so
 * spreading sessions over workers lets a restore use every core. Auth files stay with the main
 * thread's store: every read and write goes there (`RemoteAuthFiles`), so the persistence seam and
 * its durability guarantees are the same as for a connection on the main thread.
 */
/// <reference lib="deno.worker" />
import type { SessionConnection } from "../../domain/connection.ts";
import { SessionStateError } from "../../domain/errors.ts";
import type { OutgoingMessage } from "../../domain/message.ts";
import type { SessionId } from "../../domain/session_id.ts";
import type { AuthFiles } from "../../domain/session_store.ts";
import type { MessagePatch, SessionMessages, StoredMessage } from "../../domain/message_store.ts";
import { createLogger, type Logger } from "../../logger.ts";
import { BaileysConnectionFactory } from "../baileys_connection_factory.ts";
import { installSubstitutions } from "../install_substitutions.ts";
import { VerificationCounters } from "../native_curve/verification_counters.ts";
import {
  type AuthCall,
  type ConnectionCall,
  type ConnectionEvent,
  FINAL_STATUSES,
  type FromWorker,
  type MessagesCall,
  type Result,
  reviveError,
  serializeError,
  type ToWorker,
  type WorkerSettings,
} from "./protocol.ts";

let factory: BaileysConnectionFactory | undefined;
let logger: Logger | undefined;
const connections = new Map<number, SessionConnection>();
const storeRequests = new Map<number, PromiseWithResolvers<unknown>>();
let nextStoreRequest = 0;

function post(message: FromWorker): void {
  self.postMessage(message);
}

/** A session's auth folder, reached through the main thread's store. */
class RemoteAuthFiles implements AuthFiles {
  constructor(readonly connection: number) {}

  exists(): Promise<boolean> {
    return this.#ask({ op: "exists", args: [] }) as Promise<boolean>;
  }
  read(name: string): Promise<Uint8Array | undefined> {
    return this.#ask({ op: "read", args: [name] }) as Promise<Uint8Array | undefined>;
  }
  async write(changes: ReadonlyMap<string, Uint8Array | null>): Promise<void> {
    await this.#ask({ op: "write", args: [changes] });
  }
  list(): Promise<string[]> {
    return this.#ask({ op: "list", args: [] }) as Promise<string[]>;
  }
  async delete(): Promise<void> {
    await this.#ask({ op: "delete", args: [] });
  }

  #ask(call: AuthCall): Promise<unknown> {
    return ask({ type: "auth", request: nextStoreRequest++, connection: this.connection, ...call });
  }
}

/** A session's messages, reached through the main thread's message store. */
class RemoteSessionMessages implements SessionMessages {
  constructor(readonly connection: number) {}

  get(messageId: string): Promise<StoredMessage | undefined> {
    return this.#ask({ op: "get", args: [messageId] }) as Promise<StoredMessage | undefined>;
  }
  async put(messages: readonly StoredMessage[]): Promise<void> {
    await this.#ask({ op: "put", args: [messages] });
  }
  async patch(patches: readonly MessagePatch[]): Promise<void> {
    await this.#ask({ op: "patch", args: [patches] });
  }

  #ask(call: MessagesCall): Promise<unknown> {
    return ask({
      type: "messages",
      request: nextStoreRequest++,
      connection: this.connection,
      ...call,
    });
  }
}

/** Sends a store request to the main thread; resolves with its answer. */
function ask(message: Extract<FromWorker, { request: number }>): Promise<unknown> {
  const pending = Promise.withResolvers<unknown>();
  storeRequests.set(message.request, pending);
  post(message);
  return pending.promise;
}

function failed(error: unknown): Result {
  return { ok: false, error: serializeError(error) };
}

async function init(settings: WorkerSettings): Promise<void> {
  logger = createLogger(settings.log);
  factory = new BaileysConnectionFactory(settings.whatsapp);
  // Reported with `ready`: the pool logs them once for every worker.
  const substitutions = await installSubstitutions(
    new VerificationCounters(settings.verificationCounters),
  );
  post({ type: "ready", substitutions });
}

function create(
  id: number,
  sessionId: string,
  bindings: Record<string, unknown>,
  withMessages: boolean,
): void {
  const report = (event: ConnectionEvent) => {
    post({ type: "event", connection: id, event, qr: connection.qr });
    if (event.kind === "status" && FINAL_STATUSES.has(event.update.status)) {
      connections.delete(id);
    }
  };
  const connection = factory!.create({
    sessionId: sessionId as SessionId,
    auth: new RemoteAuthFiles(id),
    messages: withMessages ? new RemoteSessionMessages(id) : undefined,
    logger: logger!.child(bindings),
    listener: {
      onStatus: (update) => report({ kind: "status", update }),
      onQr: (qr) => report({ kind: "qr", qr }),
      onMessage: (message) => report({ kind: "message", message }),
      onMessageStatus: (update) => report({ kind: "message-status", update }),
      onActivity: (activity) => report({ kind: "activity", activity }),
      onAccountEvent: (event) => report({ kind: "account-event", event }),
    },
  });
  connections.set(id, connection);
}

async function run(id: number, call: ConnectionCall): Promise<unknown> {
  if (call.method === "create") {
    create(id, call.args[0].sessionId, call.args[0].loggerBindings, call.args[0].messages);
    return undefined;
  }
  const connection = connections.get(id);
  if (!connection) {
    // It ended by itself (logged out, replaced, failed): closing it again has nothing to do.
    if (call.method === "stop" || call.method === "logout") return undefined;
    throw new SessionStateError("The WhatsApp connection is not open", "session_not_connected");
  }
  switch (call.method) {
    case "start":
      return await connection.start();
    case "stop":
    case "logout":
      try {
        return await connection[call.method]();
      } finally {
        connections.delete(id);
      }
    case "sendMessage":
      return await connection.sendMessage(
        call.args[0],
        call.args[1] as OutgoingMessage,
        call.args[2],
      );
    case "checkNumbers":
      return await connection.checkNumbers(call.args[0]);
    case "perform":
      return await connection.perform(call.args[0]);
    case "requestPairingCode":
      return await connection.requestPairingCode(call.args[0]);
    case "run":
      return await connection.run(call.args[0]);
  }
}

/**
 * An uncaught error or unhandled rejection (a bug in Baileys, usually) leaves this thread's
 * connections in an unknown state: log it as JSON like every other line, tell the main thread
 * (which places the sessions again) and close, instead of Deno's plain-text report.
 */
function die(error: unknown): void {
  logger?.fatal({ err: error }, "uncaught error in a connection worker; it closes");
  post({ type: "fatal", error: serializeError(error) });
  self.close();
}
self.addEventListener("error", (event) => {
  event.preventDefault();
  die(event.error ?? new Error(event.message));
});
self.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  die(event.reason);
});

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case "init":
      await init(message.settings);
      return;
    case "store-reply": {
      const pending = storeRequests.get(message.request);
      storeRequests.delete(message.request);
      if (message.result.ok) pending?.resolve(message.result.value);
      else pending?.reject(reviveError(message.result.error));
      return;
    }
    case "call": {
      let result: Result;
      try {
        result = { ok: true, value: await run(message.connection, message) };
      } catch (error) {
        result = failed(error);
      }
      const qr = connections.get(message.connection)?.qr ?? null;
      try {
        post({ type: "reply", call: message.call, result, qr });
      } catch (error) {
        // A value that cannot cross threads must fail the call, not the worker and its sessions.
        post({ type: "reply", call: message.call, result: failed(error), qr });
      }
    }
  }
};
