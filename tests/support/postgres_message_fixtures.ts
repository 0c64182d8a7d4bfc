/**
 * The PostgreSQL message store as tests use it: a store per simulated process (a client of its
 * own), sessions with leases held by a node, and a takeover that makes a node's fence stale.
 */
import type { Sql } from "postgres";
import type { Fence } from "../../src/domain/fence.ts";
import type { MessageRetention } from "../../src/domain/message_store.ts";
import type { SessionId } from "../../src/domain/session_id.ts";
import type { Logger } from "../../src/logger.ts";
import { PostgresMessageStore } from "../../src/persistence/postgres/message_store/postgres_message_store.ts";
import { PostgresLeaseLock } from "../../src/persistence/postgres/postgres_lease_lock.ts";
import type { ValueSealer } from "../../src/persistence/sealed_value.ts";
import { silentLogger } from "./persistence_fixtures.ts";
import type { TestClients } from "./postgres_fixtures.ts";

/** The node the tests' stores write as. */
export const MESSAGE_NODE = "node-a";
const TTL_MS = 600_000;
const DAY = 86_400_000;

/** The contract's default retention. */
export const testRetention: MessageRetention = { maxAgeMs: 14 * DAY, maxBytesPerSession: 1 << 20 };

/** A new store on its own client, as another process of `nodeId` would have (not opened). */
export function postgresMessageStore(
  clients: TestClients,
  options: {
    nodeId?: string;
    retention?: MessageRetention;
    clock?: () => Date;
    sealer?: ValueSealer;
    logger?: Logger;
  } = {},
): PostgresMessageStore {
  return new PostgresMessageStore({
    sql: clients.open(),
    nodeId: options.nodeId ?? MESSAGE_NODE,
    logger: options.logger ?? silentLogger,
    retention: options.retention ?? testRetention,
    clock: options.clock,
    sealer: options.sealer,
  });
}

/** Creates sessions (bare rows) and has `nodeId` acquire their leases; returns their fences. */
export async function leasedSessions(
  admin: Sql,
  ids: string[],
  nodeId = MESSAGE_NODE,
): Promise<Fence[]> {
  for (const id of ids) {
    await admin`
      INSERT INTO sessions (id, created_at, desired_state, status)
      VALUES (${id}, '2025-01-01T00:00:00.000Z', 'running', 'disconnected')
      ON CONFLICT (id) DO NOTHING`;
  }
  return await new PostgresLeaseLock(admin, nodeId).acquire(ids as SessionId[], TTL_MS);
}

/** The lease lapses (its node stopped renewing) and `nodeId` takes it: returns the new fence. */
export async function takeOver(admin: Sql, id: string, nodeId = "node-b"): Promise<Fence> {
  await admin`UPDATE leases SET expires_at = now() - interval '1 second' WHERE session_id = ${id}`;
  const [lease] = await new PostgresLeaseLock(admin, nodeId).acquire([id as SessionId], TTL_MS);
  if (!lease) throw new Error(`${nodeId} could not take ${id} over`);
  return lease;
}
