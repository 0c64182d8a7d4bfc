import type { AccountOperation } from "../../domain/account_operations.ts";
import type {
  ConnectionFactory,
  ConnectionOptions,
  SendOptions,
  SessionConnection,
} from "../../domain/connection.ts";
import { SessionStateError } from "../../domain/errors.ts";
import type { NumberCheck, OutgoingMessage, SentMessage } from "../../domain/message.ts";
import type { Logger } from "../../logger.ts";
import type { MessageAction } from "../../domain/message_activity.ts";
import { ConnectionWorkerHandle } from "./connection_worker_handle.ts";
import { logSubstitutions } from "../substitution_status.ts";
import type { WorkerSettings } from "./protocol.ts";

export interface WorkerConnectionFactoryOptions {
  /** How many worker threads run connections. */
  workers: number;
  settings: WorkerSettings;
  logger: Logger;
  /**
   * Builds connections on the main thread instead, when workers cannot start (for example when
   * the process may not read its own source files). Called at most once.
   */
  fallback: () => Promise<ConnectionFactory>;
  /** The worker module; tests pass their own. */
  workerUrl?: URL;
  /** Called when a worker dies (it is replaced); for metrics. */
  onWorkerFailure?: () => void;
}

/**
 * Runs each session's connection in one of a few worker threads, so that logins (CPU-bound in
 * Baileys) use every core instead of queueing on the main thread. A new connection goes to the
 * worker with the fewest. If a worker dies, it is replaced and its sessions reconnect in a
 * healthy one; if workers cannot start at all, connections run on the main thread as before.
 */
export class WorkerConnectionFactory implements ConnectionFactory {
  readonly #options: WorkerConnectionFactoryOptions;
  readonly #logger: Logger;
  readonly #workers: ConnectionWorkerHandle[] = [];
  /** Placements waiting for their worker to be ready, by worker. */
  readonly #placing = new Map<ConnectionWorkerHandle, number>();
  #fallback?: Promise<ConnectionFactory>;
  #closed = false;

  constructor(options: WorkerConnectionFactoryOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ component: "connection-workers" });
    if (options.workers < 1) throw new RangeError("A worker pool needs at least one worker");
    const started = performance.now();
    for (let i = 0; i < options.workers; i++) this.#workers.push(this.#spawn());
    Promise.all(this.#workers.map((worker) => worker.ready)).then(
      (substitutions) => {
        this.#logger.info(
          {
            workers: options.workers,
            ms: Math.round(performance.now() - started),
          },
          "connection workers ready",
        );
        logSubstitutions(this.#logger, substitutions);
      },
      () => {}, // reported by #fallBack
    );
  }

  create(options: ConnectionOptions): SessionConnection {
    return new PooledConnection(options, (onLost) => this.#place(options, onLost));
  }

  /** Whether connections run in workers (false once they fell back to the main thread). */
  get usingWorkers(): boolean {
    return !this.#fallback;
  }

  /** Worker threads running connections now: 0 after falling back to the main thread. */
  get liveWorkers(): number {
    if (this.#fallback || this.#closed) return 0;
    return this.#workers.filter((worker) => worker.alive).length;
  }

  /** Connections in each live worker, in pool order (for tests and diagnostics). */
  get workerLoads(): number[] {
    if (this.#fallback || this.#closed) return [];
    return this.#workers.filter((worker) => worker.alive).map((worker) => worker.load);
  }

  /** Ends the workers. Call after every connection was stopped (the gateway's shutdown). */
  close(): Promise<void> {
    this.#closed = true;
    for (const worker of this.#workers) worker.terminate();
    return Promise.resolve();
  }

  async #place(
    options: ConnectionOptions,
    onLost: (error: Error) => void,
  ): Promise<SessionConnection> {
    if (this.#closed) throw new SessionStateError("The gateway is shutting down");
    if (!this.#fallback) {
      // Counted as the worker's from now on, so that placements made together (a restore, before
      // the workers are ready) spread over the workers instead of all picking the first.
      const load = (w: ConnectionWorkerHandle) => w.load + (this.#placing.get(w) ?? 0);
      const worker = this.#workers.filter((w) => w.alive).reduce(
        (least, w) => (load(w) < load(least) ? w : least),
      );
      this.#placing.set(worker, (this.#placing.get(worker) ?? 0) + 1);
      try {
        await worker.ready;
        // The worker may have died while this placement waited for it to start.
        if (worker.alive) return worker.open(options, onLost);
      } catch (error) {
        this.#fallBack(error as Error);
      } finally {
        const left = this.#placing.get(worker)! - 1;
        if (left > 0) this.#placing.set(worker, left);
        else this.#placing.delete(worker);
      }
      if (!this.#fallback) return await this.#place(options, onLost);
    }
    return (await this.#fallback!).create(options);
  }

  #spawn(): ConnectionWorkerHandle {
    const worker: ConnectionWorkerHandle = new ConnectionWorkerHandle({
      url: this.#options.workerUrl ?? new URL("./connection_worker.ts", import.meta.url),
      settings: this.#options.settings,
      logger: this.#logger,
      onDeath: () => {
        if (this.#closed) return;
        this.#options.onWorkerFailure?.();
        // Replace it, so the pool keeps its size; its sessions are placed again by their owners.
        const index = this.#workers.indexOf(worker);
        if (index >= 0) this.#workers[index] = this.#spawn();
      },
    });
    worker.ready.then(
      () => this.#logger.debug("connection worker ready"),
      (error) => this.#fallBack(error),
    );
    return worker;
  }

  /** Workers that die before they are ready will not do better on a retry: use the main thread. */
  #fallBack(error: Error): void {
    if (this.#fallback || this.#closed) return;
    this.#logger.warn(
      { err: error },
      "connection workers could not start; running every connection on the main thread " +
        "(grant --allow-read to the gateway's source directory to use workers)",
    );
    this.#fallback = this.#options.fallback();
    for (const worker of this.#workers) worker.terminate();
  }
}

/**
 * What the session manager holds: a connection that is placed in a worker when it starts, and
 * placed again (and reconnects from its stored credentials) if that worker dies.
 */
class PooledConnection implements SessionConnection {
  readonly #options: ConnectionOptions;
  readonly #place: (onLost: (error: Error) => void) => Promise<SessionConnection>;
  #inner?: SessionConnection;
  #starting?: Promise<void>;
  #finished = false;

  constructor(
    options: ConnectionOptions,
    place: (onLost: (error: Error) => void) => Promise<SessionConnection>,
  ) {
    this.#options = options;
    this.#place = place;
  }

  get qr(): string | null {
    return this.#inner?.qr ?? null;
  }

  start(): Promise<void> {
    return this.#starting ??= this.#open();
  }

  async stop(): Promise<void> {
    this.#finished = true;
    await this.#starting?.catch(() => {});
    await this.#inner?.stop();
  }

  async logout(): Promise<void> {
    this.#finished = true;
    await this.#starting?.catch(() => {});
    await this.#inner?.logout();
  }

  sendMessage(to: string, message: OutgoingMessage, options?: SendOptions): Promise<SentMessage> {
    return this.#require().sendMessage(to, message, options);
  }

  checkNumbers(phoneNumbers: string[]): Promise<NumberCheck[]> {
    return this.#require().checkNumbers(phoneNumbers);
  }

  perform(action: MessageAction): Promise<void> {
    return this.#require().perform(action);
  }

  requestPairingCode(phoneNumber: string): Promise<string> {
    return this.#require().requestPairingCode(phoneNumber);
  }

  run(operation: AccountOperation): Promise<unknown> {
    return this.#require().run(operation);
  }

  async #open(): Promise<void> {
    // A worker death is reported in a later task, so `inner` is always set when this runs.
    const inner: SessionConnection = await this.#place((error) => this.#onLost(inner, error));
    this.#inner = inner;
    if (this.#finished) {
      await inner.stop(); // stopped while it was being placed: nothing to start
      return;
    }
    try {
      await inner.start();
    } catch (error) {
      // Its worker died meanwhile, and `#onLost` is already placing it again.
      if (this.#inner !== inner && !this.#finished) return;
      throw error;
    }
  }

  #onLost(inner: SessionConnection, error: Error): void {
    if (this.#finished || this.#inner !== inner) return;
    this.#inner = undefined;
    const { listener, logger } = this.#options;
    logger.warn({ err: error }, "connection lost with its worker; reconnecting in another");
    listener.onStatus({
      status: "reconnecting",
      disconnect: { code: null, reason: "worker_failed", message: error.message.slice(0, 500) },
    });
    this.#starting = this.#open();
    this.#starting.catch((cause) => {
      logger.error({ err: cause }, "reconnecting in another worker failed");
      listener.onStatus({
        status: "failed",
        disconnect: { code: null, reason: "start_failed", message: String(cause?.message) },
      });
    });
  }

  #require(): SessionConnection {
    if (!this.#inner || this.#finished) {
      throw new SessionStateError("The WhatsApp connection is not open", "session_not_connected");
    }
    return this.#inner;
  }
}
