import type { SessionId } from "../../../src/domain/session_id.ts";
import { PostgresLeaseLock } from "../../../src/persistence/postgres/postgres_lease_lock.ts";
import { PostgresSessionStore } from "../../../src/persistence/postgres/postgres_session_store.ts";
import { silentLogger } from "../../support/persistence_fixtures.ts";
import { type TestClients, withMigratedDatabase } from "../../support/postgres_fixtures.ts";
import { postgresTest } from "../../support/postgres_test.ts";
import {
  sessionStoreContract,
  type SessionStoreHarness,
} from "../../support/session_store_contract.ts";

const NODE = "node-a";
const TTL = 60_000;

function postgresHarness(clients: TestClients): SessionStoreHarness {
  const admin = clients.open(2);
  const openStore = async (nodeId: string) => {
    // A client of its own, as a new process would have.
    const store = new PostgresSessionStore({ sql: clients.open(), nodeId, logger: silentLogger });
    return { store, load: await store.open() };
  };
  return {
    open: () => openStore(NODE),
    own: async (id: SessionId) => {
      const lock = new PostgresLeaseLock(admin, NODE);
      const held = (await lock.list()).find((lease) => lease.sessionId === id);
      if (held && held.holder === NODE && !held.expired) {
        return { sessionId: id, epoch: held.epoch };
      }
      const [lease] = await lock.acquire([id], TTL);
      if (!lease) throw new Error(`${id} is held by another node`);
      return lease;
    },
    corrupt: async (id) => {
      await admin`UPDATE sessions SET status = 'bogus' WHERE id = ${id}`;
    },
    stillStored: async (id) => (await admin`SELECT 1 FROM sessions WHERE id = ${id}`).length > 0,
    peer: async () => (await openStore("node-b")).store,
    takeOver: async (id) => {
      // The lease lapses (as when node-a stopped renewing), then node-b acquires it.
      await admin`UPDATE leases SET expires_at = now() - interval '1 second' WHERE session_id = ${id}`;
      const [lease] = await new PostgresLeaseLock(admin, "node-b").acquire([id], TTL);
      if (!lease) throw new Error(`node-b could not take ${id} over`);
    },
  };
}

sessionStoreContract((name, fn) =>
  postgresTest(
    `PostgresSessionStore: ${name}`,
    (pg) => withMigratedDatabase(pg, (clients) => fn(postgresHarness(clients))),
  )
);
