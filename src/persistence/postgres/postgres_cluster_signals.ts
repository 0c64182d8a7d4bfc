import type { Sql } from "postgres";
import { z } from "zod";
import { SessionIdSchema } from "../../domain/session_id.ts";
import type { Logger } from "../../logger.ts";
import type { ClusterSignal, ClusterSignals } from "../../ownership/cluster_signals.ts";
import { PostgresListener } from "./postgres_listener.ts";

/** The NOTIFY channel of cluster signals. */
export const SIGNAL_CHANNEL = "wa_cluster";

const SignalSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("placement") }),
  z.object({ kind: z.literal("spec"), sessionId: SessionIdSchema }),
]);

/**
 * Cluster signals over PostgreSQL's NOTIFY (sent on the pool, at once: a signal is a hint, so it
 * needs no transaction) and LISTEN (on a connection of its own, see `PostgresListener`). Payloads
 * are a few bytes of JSON, far under NOTIFY's 8000-byte limit, and checked when they arrive.
 */
export class PostgresClusterSignals implements ClusterSignals {
  readonly #sql: Sql;
  readonly #databaseUrl: string;
  readonly #logger: Logger;
  readonly #pending = new Set<Promise<unknown>>();
  #listener: PostgresListener | undefined;

  constructor(options: { sql: Sql; databaseUrl: string; logger: Logger }) {
    this.#sql = options.sql;
    this.#databaseUrl = options.databaseUrl;
    this.#logger = options.logger;
  }

  send(signal: ClusterSignal): void {
    const sent = this.#sql`SELECT pg_notify(${SIGNAL_CHANNEL}, ${JSON.stringify(signal)})`
      .then(() => {}, (error) => {
        // A lost hint only delays: every node catches up at its next ownership pass.
        this.#logger.debug({ err: error, signal }, "sending a cluster signal failed");
      });
    this.#pending.add(sent);
    sent.finally(() => this.#pending.delete(sent));
  }

  async start(onSignal: (signal: ClusterSignal) => void, onResync: () => void): Promise<void> {
    this.#listener = new PostgresListener({
      databaseUrl: this.#databaseUrl,
      channels: [SIGNAL_CHANNEL],
      onNotify: (_channel, payload) => {
        const parsed = SignalSchema.safeParse(safeJson(payload));
        if (parsed.success) onSignal(parsed.data);
        else this.#logger.warn({ payload: payload.slice(0, 200) }, "ignored a malformed signal");
      },
      onResync,
      logger: this.#logger,
    });
    await this.#listener.start();
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
    await this.#listener?.close();
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
