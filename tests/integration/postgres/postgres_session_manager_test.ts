/**
 * The session manager on the PostgreSQL store with the real Baileys client and the fake WhatsApp
 * server: a session linked on files and copied into the database (`migrate-store`) reconnects
 * from it without a QR under its lease, and once another node takes the lease over, its writes
 * are refused and the database keeps what the new owner would see.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { EventBus, type GatewayEvent } from "../../../src/domain/events.ts";
import { type OwnershipSettings, SessionManager } from "../../../src/domain/session_manager.ts";
import type { SessionId } from "../../../src/domain/session_id.ts";
import type { SessionStore } from "../../../src/domain/session_store.ts";
import { runMigrateStoreCli } from "../../../src/migrate_store_cli.ts";
import { FileSessionStore } from "../../../src/persistence/file_session_store.ts";
import { PostgresLeaseLock } from "../../../src/persistence/postgres/postgres_lease_lock.ts";
import { PostgresNodeRegistry } from "../../../src/persistence/postgres/postgres_node_registry.ts";
import { PostgresSessionStore } from "../../../src/persistence/postgres/postgres_session_store.ts";
import {
  BaileysConnectionFactory,
  type WhatsAppSettings,
} from "../../../src/whatsapp/baileys_connection_factory.ts";
import { type FakeWhatsApp, startFakeWhatsApp } from "../../support/fake_whatsapp/server.ts";
import { testLogger } from "../../support/logger.ts";
import { postgresTest } from "../../support/postgres_test.ts";
import { withTempDir } from "../../support/temp_dir.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const ID = "shop-1" as SessionId;

function managerOn(store: SessionStore, fake: FakeWhatsApp, ownership?: OwnershipSettings) {
  const whatsapp: WhatsAppSettings = {
    wsUrl: fake.wsUrl,
    testRootPublicKey: fake.rootPublicKey,
    baileysLogLevel: "silent",
    deviceName: "Postgres test",
    backoff: { initialDelayMs: 50, maxDelayMs: 500 },
  };
  const events = new EventBus();
  const seen: GatewayEvent[] = [];
  events.subscribe((event) => void seen.push(event));
  const manager = new SessionManager({
    store,
    logger: testLogger(),
    events,
    connections: new BaileysConnectionFactory(whatsapp),
    ownership,
    exclusiveStore: ownership === undefined,
  });
  return { manager, seen };
}

async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

postgresTest(
  "a session copied into PostgreSQL reconnects from it without a QR, and is fenced after a takeover",
  async (pg) => {
    const fake = await startFakeWhatsApp();
    const sql = postgres(pg.url, { max: 4, onnotice: () => {} });
    try {
      await withTempDir(async (dataDir) => {
        // Linked on the file store, then stopped.
        const files = new FileSessionStore({ dataDir, logger: testLogger() });
        const first = managerOn(files, fake);
        await first.manager.restore();
        await first.manager.create({ id: ID, name: "Front desk" });
        const qr = await waitFor(
          "a QR",
          async () =>
            (await first.manager.list())[0]?.status === "qr" ? first.manager.qr(ID) : undefined,
        );
        await fake.pairWithQr(qr, { phoneNumber: "15550001111" });
        await waitFor(
          "connected",
          async () => (await first.manager.get(ID)).status === "connected",
        );
        await first.manager.shutdown();
        await files.close();

        const code = await runMigrateStoreCli(["to-postgres"], {
          SESSIONS_DATA_PATH: dataDir,
          DATABASE_URL: pg.url,
        });
        assert.equal(code, 0);

        // node-a takes the lease and runs the session from the database. Its renewals are far
        // apart, so that the takeover below is found by a refused write, not by a renewal.
        const store = new PostgresSessionStore({ sql, nodeId: "node-a", logger: testLogger() });
        const second = managerOn(store, fake, {
          lock: new PostgresLeaseLock(sql, "node-a"),
          registry: new PostgresNodeRegistry(sql),
          node: { id: "node-a", url: "http://127.0.0.1:1" },
          ttlMs: 60_000,
          renewIntervalMs: 50_000,
        });
        await second.manager.restore();
        void second.manager.connectRestored();
        // The copied record says "connected" already (its last report): wait for node-a's own.
        await waitFor(
          "reconnected",
          async () =>
            second.manager.ownership.holds(ID) &&
            (await second.manager.get(ID)).status === "connected" &&
            second.seen.some((e) => e.type === "session.status" && e.status === "connected"),
        );
        const lease = second.manager.ownership.fenceOf(ID)!;
        assert.ok(!second.seen.some((event) => event.type === "session.qr"), "no QR");
        assert.equal(fake.devices().filter((d) => d.phoneNumber === "15550001111").length, 1);
        // Reports are written just after the status changes in memory.
        let row: Record<string, unknown> | undefined;
        const deadline = Date.now() + 10_000;
        while (row?.status !== "connected" && Date.now() < deadline) {
          [row] = await sql`SELECT status, phone_number FROM sessions WHERE id = ${ID}`;
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        assert.equal(row?.status, "connected");
        assert.equal(row?.phone_number, "15550001111");

        // node-b takes the session over; node-a's next writes are refused.
        await sql`UPDATE leases SET expires_at = now() - interval '1 second' WHERE session_id = ${ID}`;
        const [taken] = await new PostgresLeaseLock(sql, "node-b").acquire([ID], 60_000);
        assert.ok(taken.epoch > lease.epoch);
        const [creds] =
          await sql`SELECT data FROM auth_files WHERE session_id = ${ID} AND name = 'creds.json'`;
        // Whatever node-a still tries to report is refused (or it already found out)…
        await second.manager.stop(ID).catch(() => {});
        await waitFor("the session dropped on node-a", () => !second.manager.ownership.holds(ID));
        // …while an operator's edit, which any node makes, lands.
        await second.manager.update(ID, { name: "Renamed" });
        const [after] = await sql`SELECT status, name FROM sessions WHERE id = ${ID}`;
        assert.equal(after.status, "connected", "the stale owner's report did not land");
        assert.equal(after.name, "Renamed");
        const [credsAfter] =
          await sql`SELECT data FROM auth_files WHERE session_id = ${ID} AND name = 'creds.json'`;
        assert.deepEqual(credsAfter.data, creds.data, "no auth write under the old epoch");
        await second.manager.shutdown();
        await store.close();
      });
    } finally {
      await sql.end();
      await fake.close();
    }
  },
  e2e,
);
