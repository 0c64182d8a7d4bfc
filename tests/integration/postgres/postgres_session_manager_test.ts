/**
 * The session manager on the PostgreSQL store with the real Baileys client and the fake WhatsApp
 * server: a session linked on files and copied into the database (`migrate-store`) reconnects
 * from it without a QR under its lease, and once another node takes the lease over, its writes
 * are refused and the database keeps what the new owner would see.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { EventBus, type GatewayEvent } from "../../../src/domain/events.ts";
import type { Fence } from "../../../src/domain/fence.ts";
import { SessionManager } from "../../../src/domain/session_manager.ts";
import type { SessionId } from "../../../src/domain/session_id.ts";
import type { SessionStore } from "../../../src/domain/session_store.ts";
import { runMigrateStoreCli } from "../../../src/migrate_store_cli.ts";
import { FileSessionStore } from "../../../src/persistence/file_session_store.ts";
import { PostgresLeaseLock } from "../../../src/persistence/postgres/postgres_lease_lock.ts";
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

function managerOn(store: SessionStore, fake: FakeWhatsApp, fenceOf?: (id: SessionId) => Fence) {
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
    fenceOf,
  });
  return { manager, seen };
}

async function waitFor<T>(
  what: string,
  check: () => T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
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
          () => first.manager.list()[0]?.status === "qr" ? first.manager.qr(ID) : undefined,
        );
        await fake.pairWithQr(qr, { phoneNumber: "15550001111" });
        await waitFor("connected", () => first.manager.get(ID).status === "connected");
        await first.manager.shutdown();
        await files.close();

        const code = await runMigrateStoreCli(["to-postgres"], {
          SESSIONS_DATA_PATH: dataDir,
          DATABASE_URL: pg.url,
        });
        assert.equal(code, 0);

        // node-a holds the lease and runs the session from the database.
        const store = new PostgresSessionStore({ sql, nodeId: "node-a", logger: testLogger() });
        const [lease] = await new PostgresLeaseLock(sql, "node-a").acquire([ID], 60_000);
        const second = managerOn(store, fake, (id) => ({ sessionId: id, epoch: lease.epoch }));
        await second.manager.restore();
        void second.manager.connectRestored();
        await waitFor("reconnected", () => second.manager.get(ID).status === "connected");
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
        await second.manager.stop(ID).catch(() => {}); // its report is fenced out
        await new Promise((resolve) => setTimeout(resolve, 200));
        const [after] = await sql`SELECT status, desired_state FROM sessions WHERE id = ${ID}`;
        assert.equal(after.status, "connected", "the stale owner's report did not land");
        assert.equal(after.desired_state, "stopped", "an operator's change (any node) did");
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
