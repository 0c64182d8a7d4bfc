import type { ConnectionOptions, SessionConnection } from "../../domain/connection.ts";
import type { AuthFiles } from "../../domain/session_store.ts";
import type { SessionMessages } from "../../domain/message_store.ts";
import type { Logger } from "../../logger.ts";
import type { ThreadSubstitutions } from "../substitution_status.ts";
import { RemoteConnection } from "./remote_connection.ts";
import {
  type AuthCall,
  type ConnectionCall,
  type FromWorker,
  type MessagesCall,
  type Result,
  reviveError,
  serializeError,
  type ToWorker,
  type WorkerSettings,
} from "./protocol.ts";

export interface ConnectionWorkerOptions {
  /** The worker's module (`connection_worker.ts`). */
  url: URL;
  settings: WorkerSettings;
  logger: Logger;
  /** Called once if the worker dies (an uncaught error in it); its connections are gone. */
  onDeath: (error: Error) => void;
}

/**
 * The main thread's side of one connection worker: it starts the thread, runs calls on the
 * connections that live there, serves their auth files from the main thread's store, and notices
 * when the thread dies.
 */
export class ConnectionWorkerHandle {
  /**
   * Resolves once the worker has loaded Baileys, with what became of the runtime substitutions
   * there; rejects if it died before.
   */
  readonly ready: Promise<ThreadSubstitutions>;
  readonly #worker: Worker;
  readonly #options: ConnectionWorkerOptions;
  readonly #ready = Promise.withResolvers<ThreadSubstitutions>();
  readonly #calls = new Map<number, PromiseWithResolvers<{ value: unknown; qr: string | null }>>();
  readonly #connections = new Map<number, RemoteConnection>();
  #nextCall = 0;
  #nextConnection = 0;
  #death?: Error;

  constructor(options: ConnectionWorkerOptions) {
    this.#options = options;
    this.ready = this.#ready.promise;
    this.ready.catch(() => {}); // observed by whoever places a connection here
    this.#worker = new Worker(options.url, { type: "module" });
    this.#worker.onmessage = (event: MessageEvent<FromWorker>) => this.#receive(event.data);
    this.#worker.onerror = (event) => {
      // Handled here: unhandled, a worker's error would end the whole process.
      event.preventDefault();
      this.#die(new Error(event.message || "connection worker failed"));
    };
    this.#worker.onmessageerror = () => this.#die(new Error("unreadable message from worker"));
    this.#post({ type: "init", settings: options.settings });
  }

  /** Connections living in this worker. */
  get load(): number {
    return this.#connections.size;
  }

  get alive(): boolean {
    return !this.#death;
  }

  /** A connection for `options`, to live in this worker (built there on `start`). */
  open(options: ConnectionOptions, onLost: (error: Error) => void): SessionConnection {
    const id = this.#nextConnection++;
    const connection = new RemoteConnection({
      call: (call) => this.#call(id, call),
      auth: options.auth,
      messages: options.messages,
      listener: options.listener,
      onLost,
      create: {
        sessionId: options.sessionId,
        loggerBindings: options.logger.bindings(),
        messages: options.messages !== undefined,
      },
      forget: () => this.#connections.delete(id),
    });
    this.#connections.set(id, connection);
    return connection;
  }

  /**
   * Ends the thread at once. Calls in flight fail and its connections are lost (their owners
   * place them again, or ignore it when they were stopped, as at shutdown).
   */
  terminate(): void {
    this.#end(new Error("connection worker terminated"));
  }

  #call(connection: number, call: ConnectionCall): Promise<{ value: unknown; qr: string | null }> {
    if (this.#death) return Promise.reject(this.#death);
    const id = this.#nextCall++;
    const pending = Promise.withResolvers<{ value: unknown; qr: string | null }>();
    this.#calls.set(id, pending);
    this.#post({ type: "call", call: id, connection, ...call });
    return pending.promise;
  }

  #receive(message: FromWorker): void {
    switch (message.type) {
      case "ready":
        this.#ready.resolve(message.substitutions);
        return;
      case "fatal":
        this.#die(reviveError(message.error));
        return;
      case "reply": {
        const pending = this.#calls.get(message.call);
        this.#calls.delete(message.call);
        if (message.result.ok) pending?.resolve({ value: message.result.value, qr: message.qr });
        else pending?.reject(reviveError(message.result.error));
        return;
      }
      case "event":
        this.#connections.get(message.connection)?.deliver(message.event, message.qr);
        return;
      case "auth":
        this.#serve(message.request, message.connection, (connection) => {
          return runAuthCall(connection.auth, message);
        });
        return;
      case "messages":
        this.#serve(message.request, message.connection, (connection) => {
          if (!connection.messages) throw new Error("The session has no message store");
          return runMessagesCall(connection.messages, message);
        });
    }
  }

  /** Runs a store request of a worker's connection on the main thread's store, and answers it. */
  async #serve(
    request: number,
    connection: number,
    run: (connection: RemoteConnection) => Promise<unknown>,
  ): Promise<void> {
    let result: Result;
    try {
      const remote = this.#connections.get(connection);
      if (!remote) throw new Error("The connection has ended");
      result = { ok: true, value: await run(remote) };
    } catch (error) {
      result = { ok: false, error: serializeError(error) };
    }
    if (!this.#death) this.#post({ type: "store-reply", request, result });
  }

  #die(error: Error): void {
    if (this.#death) return;
    this.#options.logger.error({ err: error }, "connection worker died");
    this.#end(error);
    this.#options.onDeath(error);
  }

  #end(error: Error): void {
    if (this.#death) return;
    this.#death = error;
    this.#worker.terminate();
    this.#ready.reject(error);
    this.#failPending(error);
    const lost = [...this.#connections.values()];
    this.#connections.clear();
    for (const connection of lost) connection.lost(error);
  }

  #failPending(error: Error): void {
    for (const pending of this.#calls.values()) pending.reject(error);
    this.#calls.clear();
  }

  #post(message: ToWorker): void {
    this.#worker.postMessage(message);
  }
}

function runMessagesCall(messages: SessionMessages, call: MessagesCall): Promise<unknown> {
  switch (call.op) {
    case "get":
      return messages.get(call.args[0]);
    case "put":
      return messages.put(call.args[0]);
    case "patch":
      return messages.patch(call.args[0]);
  }
}

function runAuthCall(auth: AuthFiles, call: AuthCall): Promise<unknown> {
  switch (call.op) {
    case "exists":
      return auth.exists();
    case "read":
      return auth.read(call.args[0]);
    case "write":
      return auth.write(call.args[0]);
    case "list":
      return auth.list();
    case "delete":
      return auth.delete();
  }
}
