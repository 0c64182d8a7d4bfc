import type { Sql } from "postgres";
import type { SessionId } from "../../src/domain/session_id.ts";
import { migrate } from "../../src/persistence/postgres/migrations.ts";
import { openDatabaseClient } from "../../src/persistence/postgres/postgres_client.ts";
import { PostgresLeaseLock } from "../../src/persistence/postgres/postgres_lease_lock.ts";
import { PostgresNodeRegistry } from "../../src/persistence/postgres/postgres_node_registry.ts";
import type { LeaseBackend } from "./lease_lock_contract.ts";
import { silentLogger } from "./persistence_fixtures.ts";
import type { TestPostgres } from "./postgres_server.ts";

/** Clients opened for a test, closed together at its end. */
export class TestClients {
  readonly #clients: Sql[] = [];

  constructor(readonly url: string) {}

  /** A new client as the gateway opens it (its own connections, as another node would have). */
  open(max = 4): Sql {
    const sql = openDatabaseClient(this.url, { max });
    this.#clients.push(sql);
    return sql;
  }

  /** Ends every client opened here. */
  async close(): Promise<void> {
    await Promise.all(this.#clients.splice(0).map((sql) => sql.end({ timeout: 5 })));
  }
}

/**
 * Runs `fn` with a migrated database on `pg` and a set of clients, closed afterwards.
 *
 * @example
 * ```ts
 * postgresTest("…", (pg) => withMigratedDatabase(pg, async (clients) => { … }));
 * ```
 */
export async function withMigratedDatabase(
  pg: TestPostgres,
  fn: (clients: TestClients) => Promise<void>,
): Promise<void> {
  const clients = new TestClients(pg.url);
  try {
    await migrate(clients.open(1), silentLogger);
    await fn(clients);
  } finally {
    await clients.close();
  }
}

/** The lease and node tables of a migrated database, seen by as many nodes as asked. */
export function postgresLeaseBackend(clients: TestClients): LeaseBackend {
  const admin = clients.open(2);
  return {
    lock: (identity) => new PostgresLeaseLock(clients.open(), identity),
    registry: () => new PostgresNodeRegistry(clients.open(2)),
    createSession: async (id: SessionId) => {
      await admin`
        INSERT INTO sessions (id, created_at, desired_state, status)
        VALUES (${id}, '2025-01-01T00:00:00.000Z', 'running', 'disconnected')`;
    },
    removeSession: async (id: SessionId) => {
      await admin`DELETE FROM sessions WHERE id = ${id}`;
    },
    storeNow: async () => (await admin<{ now: Date }[]>`SELECT now() AS now`)[0].now,
  };
}
