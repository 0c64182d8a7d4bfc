/** What only the PostgreSQL store does: server restarts, encryption in rows, migrations, the API key. */
import assert from "node:assert/strict";
import { EncryptionKeyError } from "../../../src/domain/errors.ts";
import type { Fence } from "../../../src/domain/fence.ts";
import type { SessionId } from "../../../src/domain/session_id.ts";
import type { AuthFileCodec } from "../../../src/persistence/auth_file_codec.ts";
import {
  createAesGcmCodec,
  isEncryptedAuthFile,
} from "../../../src/persistence/encrypted_auth_file.ts";
import { migrate, MIGRATIONS } from "../../../src/persistence/postgres/migrations.ts";
import { databaseApiKey } from "../../../src/persistence/postgres/postgres_api_key.ts";
import { PostgresLeaseLock } from "../../../src/persistence/postgres/postgres_lease_lock.ts";
import { PostgresSessionStore } from "../../../src/persistence/postgres/postgres_session_store.ts";
import { PostgresWebhookOutbox } from "../../../src/persistence/postgres/postgres_webhook_outbox.ts";
import { createValueSealer, type ValueSealer } from "../../../src/persistence/sealed_value.ts";
import { sessionRecord, silentLogger } from "../../support/persistence_fixtures.ts";
import { TestClients } from "../../support/postgres_fixtures.ts";
import { postgresTest } from "../../support/postgres_test.ts";
import { outboxEntry } from "../../support/webhook_outbox_contract.ts";

const KEY = new Uint8Array(32).fill(7);
const OTHER_KEY = new Uint8Array(32).fill(9);
const SECRET = "s3cret-webhook-0123456789";
const bytes = (text: string) => new TextEncoder().encode(text);

async function openStore(
  clients: TestClients,
  options: { codec?: AuthFileCodec; sealer?: ValueSealer; nodeId?: string } = {},
) {
  const store = new PostgresSessionStore({
    sql: clients.open(),
    nodeId: options.nodeId ?? "node-a",
    logger: silentLogger,
    ...options,
  });
  return { store, load: await store.open() };
}

async function lease(clients: TestClients, id: string) {
  const [taken] = await new PostgresLeaseLock(clients.open(1), "node-a").acquire(
    [id as SessionId],
    60_000,
  );
  return taken;
}

postgresTest(
  "writes resolved before a server restart are read back after it, and the store goes on",
  async (pg) => {
    const clients = new TestClients(pg.url);
    try {
      const { store } = await openStore(clients);
      await store.create(sessionRecord("a", { name: "before" }));
      const fence = await lease(clients, "a");
      await store.auth(fence).write(new Map([["creds.json", bytes("kept")]]));
      await pg.restart();
      // The pooled connections were cut: the next calls reconnect.
      const after = await store.updateSpec("a" as SessionId, () => ({ name: "after" }));
      assert.equal(after.name, "after");
      const second = await openStore(clients);
      assert.equal(
        new TextDecoder().decode(await second.store.auth(fence).read("creds.json")),
        "kept",
      );
      assert.deepEqual(second.load.sessions.map((r) => r.name), ["after"]);
    } finally {
      await clients.close();
    }
  },
  { ownServer: true },
);

postgresTest(
  "with an encryption key, auth rows and webhook secrets are stored encrypted",
  async (pg) => {
    const clients = new TestClients(pg.url);
    try {
      const codec = await createAesGcmCodec(KEY);
      const { store } = await openStore(clients, { codec, sealer: createValueSealer(KEY) });
      await store.create(sessionRecord("a", {
        webhooks: [{ url: "https://example.com/hook", secret: SECRET, events: [] }],
      }));
      const fence = await lease(clients, "a");
      await store.auth(fence).write(new Map([["creds.json", bytes('{"noiseKey":"plain"}')]]));
      const admin = clients.open(1);
      const [row] = await admin<{ data: Uint8Array }[]>`SELECT data FROM auth_files`;
      assert.ok(isEncryptedAuthFile(row.data));
      assert.ok(!new TextDecoder().decode(row.data).includes("noiseKey"));
      const [session] = await admin<{ webhooks: string }[]>`SELECT webhooks::text FROM sessions`;
      assert.ok(!session.webhooks.includes(SECRET), "the secret is sealed");
      assert.equal((await store.get("a" as SessionId))?.webhooks?.[0].secret, SECRET);
      assert.equal(
        new TextDecoder().decode(await store.auth(fence).read("creds.json")),
        '{"noiseKey":"plain"}',
      );
    } finally {
      await clients.close();
    }
  },
);

postgresTest("a wrong or missing key stops open() before anything changes", async (pg) => {
  const clients = new TestClients(pg.url);
  try {
    const { store } = await openStore(clients, { codec: await createAesGcmCodec(KEY) });
    await store.create(sessionRecord("a"));
    await store.auth(await lease(clients, "a")).write(new Map([["creds.json", bytes("{}")]]));
    const admin = clients.open(1);
    const before = await admin`SELECT session_id, name, data FROM auth_files`;
    await assert.rejects(
      openStore(clients, { codec: await createAesGcmCodec(OTHER_KEY) }),
      (error) => error instanceof EncryptionKeyError && error.code === "encryption_key_mismatch",
    );
    await assert.rejects(
      openStore(clients),
      (error) => error instanceof EncryptionKeyError && error.code === "encryption_key_required",
    );
    assert.deepEqual(await admin`SELECT session_id, name, data FROM auth_files`, before);
  } finally {
    await clients.close();
  }
});

postgresTest(
  "auth rows written without a key are encrypted by the first start with one",
  async (pg) => {
    const clients = new TestClients(pg.url);
    try {
      const { store } = await openStore(clients);
      await store.create(sessionRecord("a"));
      const fence = await lease(clients, "a");
      await store.auth(fence).write(
        new Map([["creds.json", bytes("creds")], ["pre-key-1.json", bytes("k1")]]),
      );
      const keyed = await openStore(clients, { codec: await createAesGcmCodec(KEY) });
      const rows = await clients.open(1)<{ data: Uint8Array }[]>`SELECT data FROM auth_files`;
      assert.ok(rows.every((row) => isEncryptedAuthFile(row.data)));
      assert.equal(
        new TextDecoder().decode(await keyed.store.auth(fence).read("creds.json")),
        "creds",
      );
    } finally {
      await clients.close();
    }
  },
);

postgresTest(
  "migrations run once, also when nodes start together, and a newer schema is refused",
  async (pg) => {
    const clients = new TestClients(pg.url);
    try {
      const applied = await Promise.all(
        Array.from({ length: 4 }, () => migrate(clients.open(1), silentLogger)),
      );
      assert.deepEqual(applied.flat(), MIGRATIONS.map((m) => m.version), "each applied once");
      assert.deepEqual(await migrate(clients.open(1), silentLogger), [], "idempotent");
      const admin = clients.open(1);
      const rows = await admin`SELECT version FROM schema_migrations`;
      assert.equal(rows.length, MIGRATIONS.length);
      await admin`INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')`;
      await assert.rejects(migrate(admin, silentLogger), /newer than this gateway knows/);
    } finally {
      await clients.close();
    }
  },
);

postgresTest(
  "the generated API key is kept in the database and shared by every node",
  async (pg) => {
    const clients = new TestClients(pg.url);
    try {
      await migrate(clients.open(1), silentLogger);
      const keys = await Promise.all(
        Array.from({ length: 3 }, () => databaseApiKey(clients.open(1), silentLogger)),
      );
      assert.equal(new Set(keys.map((k) => k.key)).size, 1);
      assert.equal(keys.filter((k) => k.generated).length, 1);
      assert.equal(keys[0].source, "database");
      assert.equal((await databaseApiKey(clients.open(1), silentLogger)).key, keys[0].key);
    } finally {
      await clients.close();
    }
  },
);

postgresTest(
  "writes made while the server restarts resolve once it is back, and none is lost",
  async (pg) => {
    const clients = new TestClients(pg.url);
    try {
      const { store } = await openStore(clients);
      const outbox = new PostgresWebhookOutbox({
        sql: clients.open(),
        nodeId: "node-a",
        logger: silentLogger,
      });
      await outbox.open();
      const ids = Array.from({ length: 8 }, (_, i) => `s${i}`);
      const fences = new Map<string, Fence>();
      for (const id of ids) {
        await store.create(sessionRecord(id));
        fences.set(id, await lease(clients, id));
      }
      const acked = new Map<string, number>();
      let appended = 0;
      let stop = false;
      const writer = async (id: string) => {
        for (let n = 1; !stop; n++) {
          const fence = fences.get(id)!;
          await store.report(fence, { pushName: `push-${n}` });
          await store.auth(fence).write(new Map([["creds.json", bytes(`creds-${n}`)]]));
          await store.updateSpec(id as SessionId, () => ({ name: `name-${n}` }));
          await outbox.append([outboxEntry(Number(id.slice(1)) * 100_000 + n, id)]);
          appended++;
          acked.set(id, n);
        }
      };
      const writers = ids.map(writer);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await pg.restart();
      await new Promise((resolve) => setTimeout(resolve, 300));
      stop = true;
      await Promise.all(writers); // none rejected
      await outbox.close();
      const reader = await openStore(clients);
      for (const id of ids) {
        const n = acked.get(id)!;
        const record = await reader.store.get(id as SessionId);
        assert.equal(record?.pushName, `push-${n}`);
        assert.equal(record?.name, `name-${n}`);
        const creds = await reader.store.auth(fences.get(id)!).read("creds.json");
        assert.equal(new TextDecoder().decode(creds), `creds-${n}`);
      }
      const [pending] = await clients.open(1)`SELECT count(*)::int AS n FROM webhook_outbox`;
      assert.equal(pending.n, appended, "every appended delivery kept, none twice");
    } finally {
      await clients.close();
    }
  },
  { ownServer: true },
);
