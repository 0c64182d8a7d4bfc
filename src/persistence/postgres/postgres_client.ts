import postgres, { type Sql } from "postgres";
import type { Logger } from "../../logger.ts";

/** How long a connection attempt may take before the database counts as unreachable. */
export const CONNECT_TIMEOUT_S = 10;

/** The longest pause before a lost pooled connection connects again, in seconds. */
const MAX_RECONNECT_DELAY_S = 1;

/** A client is renewed at most this often, however many writes report a stuck connection. */
const MIN_RENEWAL_INTERVAL_MS = 1_000;

/**
 * Seconds a lost pooled connection waits before it connects again, after `failures` connections
 * of its pool failed in a row: 50 ms doubling up to 1 s, jittered. The client's own default grows
 * as 3^failures up to 20 s, counting every connection of the pool, so after a server restart a
 * write sat that long behind a reconnect while the server was already back. Longer pauses between
 * whole retries are `retryTransient`'s.
 *
 * @example
 * ```ts
 * reconnectDelaySeconds(3); // 0.2..0.4
 * ```
 */
export function reconnectDelaySeconds(
  failures: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(0.05 * 2 ** Math.min(failures, 20), MAX_RECONNECT_DELAY_S);
  return ceiling / 2 + random() * (ceiling / 2);
}

/** Options of {@linkcode openDatabaseClient}. */
export interface DatabaseClientOptions {
  /** Connections in the pool. */
  max: number;
  /** Seconds before a connection is recycled (default: the client's). */
  maxLifetimeS?: number;
  /** Server settings of every connection (`SET` at connect), such as `lock_timeout`. */
  connection?: Record<string, string | number>;
  /** Hears database notices, and the client faults worked around here. */
  logger?: Logger;
}

const RENEW = Symbol("renew the database client");

/**
 * A pooled PostgreSQL client as the gateway and its tools use it: a bounded connection attempt and
 * prompt reconnects after an outage (see `reconnectDelaySeconds`). It is renewable: the client
 * (postgres.js 3.4.9) has a race where a connection that closes while a small write waits for its
 * `setImmediate` is left unable to send anything again (each later connect attempt ends in
 * `CONNECT_TIMEOUT`; upstream issues 1154 and 1208), so `renewDatabaseClient` swaps in a fresh
 * pool behind the same `Sql` and ends the old one. The same race can also throw from that
 * immediate, where no caller can catch it; see `ignoreClientWriteRace`.
 *
 * @example
 * ```ts
 * const sql = openDatabaseClient(databaseUrl, { max: 10, logger });
 * ```
 */
export function openDatabaseClient(databaseUrl: string, options: DatabaseClientOptions): Sql {
  ignoreClientWriteRace(options.logger);
  const open = () =>
    postgres(databaseUrl, {
      max: options.max,
      connect_timeout: CONNECT_TIMEOUT_S,
      backoff: (failures: number) => reconnectDelaySeconds(failures),
      onnotice: (notice) => options.logger?.debug({ notice: notice.message }, "database notice"),
      ...(options.maxLifetimeS === undefined ? {} : { max_lifetime: options.maxLifetimeS }),
      ...(options.connection === undefined ? {} : { connection: options.connection }),
    });
  let current = open();
  let renewedAt = Date.now();
  const renew = () => {
    if (Date.now() - renewedAt < MIN_RENEWAL_INTERVAL_MS) return;
    const old = current;
    current = open();
    renewedAt = Date.now();
    options.logger?.warn("a database connection stopped answering; opened a fresh pool");
    old.end({ timeout: 5 }).catch(() => {});
  };
  // A function target, so that `sql\`…\`` and `sql(…)` reach the current pool as they would it.
  return new Proxy(function () {} as unknown as Sql, {
    apply: (_target, _this, args) => (current as unknown as (...a: unknown[]) => unknown)(...args),
    get: (_target, property) => property === RENEW ? renew : Reflect.get(current, property),
    has: (_target, property) => property in current,
  });
}

/**
 * Replaces the pool behind a client from `openDatabaseClient` (at most once a second); does
 * nothing for any other client. Called when a connection attempt timed out.
 */
export function renewDatabaseClient(sql: Sql): void {
  (sql as unknown as { [RENEW]?: () => void })[RENEW]?.();
}

let ignoring = false;

/**
 * Keeps the process alive through the client's write race: the `TypeError` its deferred write
 * throws (`socket` already null) is an uncaught exception that would end the gateway; the
 * connection was closed already and its query rejected, so it is logged and dropped. Any other
 * uncaught error is left alone.
 */
function ignoreClientWriteRace(logger: Logger | undefined): void {
  if (ignoring) return;
  ignoring = true;
  globalThis.addEventListener("error", (event) => {
    const error = event.error;
    if (!(error instanceof TypeError) || !/reading 'write'/.test(error.message)) return;
    const stack = error.stack ?? "";
    if (!stack.includes("nextWrite") || !/postgres@[^/]*\/node_modules\/postgres\//.test(stack)) {
      return;
    }
    event.preventDefault();
    logger?.warn("a database connection closed during a write (client race); it reconnects");
  });
}
