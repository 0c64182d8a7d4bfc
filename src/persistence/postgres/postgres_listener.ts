import postgres, { type Sql } from "postgres";
import type { Logger } from "../../logger.ts";

/** Options of {@linkcode PostgresListener}. */
export interface PostgresListenerOptions {
  databaseUrl: string;
  channels: readonly string[];
  onNotify: (channel: string, payload: string) => void;
  /** Called after every (re)connection: notifications sent meanwhile were lost. */
  onResync: () => void;
  logger: Logger;
}

/**
 * One dedicated connection that LISTENs on some channels, and LISTENs again (backing off from
 * 250 ms to 5 s) whenever it is lost, for as long as it runs. The client's own `listen` gives up
 * when the server is down at the moment it re-listens; this does not. Notifications arrive only at
 * commit and are lost while disconnected, so `onResync` tells the owner to reload from tables.
 *
 * @example
 * ```ts
 * const listener = new PostgresListener({ databaseUrl, channels: ["wa_cluster"], onNotify, onResync, logger });
 * await listener.start();
 * ```
 */
export class PostgresListener {
  readonly #options: PostgresListenerOptions;
  #sql: Sql | undefined;
  #closed = false;
  #connected = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #delay = 250;

  constructor(options: PostgresListenerOptions) {
    this.#options = options;
  }

  /** Connects and listens; resolves once listening (or keeps trying in the background). */
  async start(): Promise<void> {
    await this.#listen();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    await this.#sql?.end({ timeout: 1 }).catch(() => {});
  }

  async #listen(): Promise<void> {
    if (this.#closed) return;
    const options = {
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      connect_timeout: 5,
      fetch_types: false,
      onnotice: () => {},
      // The client calls this for every NOTIFY on its connections (its typings omit it).
      onnotify: (channel: string, payload: string) => this.#options.onNotify(channel, payload),
      onclose: () => this.#lost(sql),
    };
    const sql: Sql = postgres(
      this.#options.databaseUrl,
      options as postgres.Options<Record<string, never>>,
    );
    this.#sql = sql;
    try {
      for (const channel of this.#options.channels) {
        await sql.unsafe(`LISTEN "${channel.replace(/"/g, '""')}"`);
      }
    } catch (error) {
      await sql.end({ timeout: 1 }).catch(() => {});
      if (this.#connected) {
        this.#connected = false;
        this.#options.logger.warn({ err: error }, "cluster notifications lost; reconnecting");
      }
      this.#schedule();
      return;
    }
    if (!this.#connected && this.#delay > 250) {
      this.#options.logger.info("cluster notifications back");
    }
    this.#connected = true;
    this.#delay = 250;
    this.#options.onResync();
  }

  #lost(sql: Sql): void {
    if (this.#closed || this.#sql !== sql) return;
    this.#sql = undefined;
    if (this.#connected) {
      this.#connected = false;
      this.#options.logger.warn("cluster notifications lost; reconnecting");
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => void this.#listen(), this.#delay);
    this.#delay = Math.min(5_000, this.#delay * 2);
  }
}
