/**
 * What only the PostgreSQL message store does: rows sealed at rest, claims of one key raced by
 * two processes, a server restart mid-writes, invalid rows, the byte count, removal with the
 * session.
 */
import assert from "node:assert/strict";
import { EncryptionKeyError, PersistenceError } from "../../../src/domain/errors.ts";
import type { SessionId } from "../../../src/domain/session_id.ts";
import { migrate } from "../../../src/persistence/postgres/migrations.ts";
import { PostgresSessionStore } from "../../../src/persistence/postgres/postgres_session_store.ts";
import { createValueSealer } from "../../../src/persistence/sealed_value.ts";
import { keyRecord, storedText } from "../../support/message_store_contract.ts";
import { captureLogger, silentLogger } from "../../support/persistence_fixtures.ts";
import { TestClients, withMigratedDatabase } from "../../support/postgres_fixtures.ts";
import { leasedSessions, postgresMessageStore } from "../../support/postgres_message_fixtures.ts";
import { postgresTest } from "../../support/postgres_test.ts";

const S1 = "shop-1" as SessionId;
const T0 = Date.now();
const sealer = createValueSealer(new Uint8Array(32).fill(7));

postgresTest(
  "with a key, no content, chat, sender or push name is readable in the rows",
  (pg) =>
    withMigratedDatabase(pg, async (clients) => {
      const admin = clients.open(2);
      const [fence] = await leasedSessions(admin, ["shop-1"]);
      const store = postgresMessageStore(clients, { sealer });
      await store.open();
      const message = storedText("SECRET1", T0);
      await store.put(fence, [message]);
      await store.idempotency.claim(fence, keyRecord("order-1", { messageId: "SECRET1" }));
      const dumped = await admin<{ text: string }[]>`
      SELECT concat_ws(' ', m.chat, m.body::text, r.body::text) AS text
      FROM messages m, idempotency_records r`;
      for (const secret of ["content of", "15550009999", "Bob", btoa("content of SECRET1")]) {
        assert.ok(!dumped[0].text.includes(secret), `${secret} is sealed`);
      }
      assert.deepEqual(await store.get(S1, "SECRET1"), message);
      const page = await store.history(S1, message.chat, { limit: 10 });
      assert.deepEqual(page.items, [message], "the chat is found through its blinded form");
      const chats = await store.chats(S1, { limit: 10 });
      assert.equal(chats.items[0].jid, message.chat);
      await store.close();
      await assert.rejects(() => postgresMessageStore(clients).open(), EncryptionKeyError);
    }),
);

postgresTest(
  "rows stored without a key are sealed by the first open with one",
  (pg) =>
    withMigratedDatabase(pg, async (clients) => {
      const admin = clients.open(2);
      const [fence] = await leasedSessions(admin, ["shop-1"]);
      const plain = postgresMessageStore(clients);
      await plain.open();
      const messages = Array.from({ length: 600 }, (_, i) => storedText(`M${i}`, T0 + i));
      await plain.put(fence, messages);
      await plain.idempotency.claim(fence, keyRecord("k", { messageId: "M1" }));
      await plain.close();
      const keyed = postgresMessageStore(clients, { sealer });
      assert.equal((await keyed.open()).messages, 600);
      const [left] = await admin<{ plain: string }[]>`
      SELECT (SELECT count(*) FROM messages WHERE jsonb_typeof(body) <> 'string') +
        (SELECT count(*) FROM idempotency_records WHERE jsonb_typeof(body) <> 'string') AS plain`;
      assert.equal(Number(left.plain), 0);
      assert.deepEqual((await keyed.history(S1, messages[0].chat, { limit: 1 })).items, [
        messages.at(-1),
      ]);
      assert.deepEqual((await keyed.dump(S1)).messages, messages);
      await keyed.close();
    }),
);

postgresTest(
  "an invalid row is reported (get fails naming it, listings log it) and kept",
  (pg) =>
    withMigratedDatabase(pg, async (clients) => {
      const admin = clients.open(2);
      const [fence] = await leasedSessions(admin, ["shop-1"]);
      const { logger, lines } = captureLogger();
      const store = postgresMessageStore(clients, { logger });
      await store.open();
      await store.put(fence, [storedText("GOOD", T0), storedText("BAD", T0 + 1)]);
      await admin`UPDATE messages SET body = jsonb_set(body, '{timestamp}', '"soon"')
      WHERE id = 'BAD'`;
      await assert.rejects(
        () => store.get(S1, "BAD"),
        (error) => error instanceof PersistenceError && /BAD.*shop-1.*invalid/.test(error.message),
      );
      const page = await store.history(S1, storedText("GOOD", T0).chat, { limit: 10 });
      assert.deepEqual(page.items.map((m) => m.id), ["GOOD"]);
      assert.ok(lines.some((line) => line.messageId === "BAD" && line.level >= 50));
      const [kept] = await admin`SELECT 1 FROM messages WHERE id = 'BAD'`;
      assert.ok(kept, "the invalid row is left as it is");
      await store.close();
    }),
);

postgresTest(
  "two processes claiming one key at once: exactly one wins, every time",
  (pg) =>
    withMigratedDatabase(pg, async (clients) => {
      const admin = clients.open(2);
      const [fence] = await leasedSessions(admin, ["shop-1"]);
      const first = postgresMessageStore(clients);
      const second = postgresMessageStore(clients);
      await Promise.all([first.open(), second.open()]);
      for (let round = 0; round < 20; round++) {
        const claim = (store: typeof first, messageId: string) =>
          store.idempotency.claim(fence, {
            key: `order-${round}`,
            requestHash: "h",
            messageId,
            createdAt: T0,
            expiresAfterMs: 60_000,
          });
        const answers = await Promise.all([claim(first, "from-1"), claim(second, "from-2")]);
        const winners = answers.filter((answer) => answer === null);
        assert.equal(winners.length, 1, `round ${round}: ${JSON.stringify(answers)}`);
        const loser = answers.find((answer) => answer !== null)!;
        assert.equal(loser.messageId, answers[0] === null ? "from-1" : "from-2");
      }
      await Promise.all([first.close(), second.close()]);
    }),
);

postgresTest(
  "writes during a server restart are retried and resolve; nothing resolved is lost",
  async (pg) => {
    const clients = new TestClients(pg.url);
    try {
      await migrate(clients.open(1), silentLogger);
      const admin = clients.open(2);
      const [fence] = await leasedSessions(admin, ["shop-1"]);
      const store = postgresMessageStore(clients);
      await store.open();
      const written: string[] = [];
      let stop = false;
      let failure: unknown;
      const writer = (async () => {
        for (let i = 0; !stop; i++) {
          await store.put(fence, [storedText(`W${i}`, T0 + i)]);
          written.push(`W${i}`);
        }
      })().catch((error) => failure = error);
      const waitFor = async (count: number) => {
        while (written.length < count) {
          if (failure) throw failure;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      };
      await waitFor(20);
      const beforeRestart = written.length;
      await pg.restart();
      await waitFor(written.length + 20);
      stop = true;
      await writer;
      if (failure) throw failure;
      assert.ok(written.length > beforeRestart + 20);
      const reader = postgresMessageStore(clients);
      await reader.open();
      const dump = await reader.dump(S1);
      const stored = new Set(dump.messages.map((m) => m.id));
      assert.deepEqual(written.filter((id) => !stored.has(id)), [], "every resolved put is there");
      await assertByteCountExact(admin);
      await store.close();
    } finally {
      await clients.close();
    }
  },
  { ownServer: true },
);

postgresTest(
  "the byte count stays exact through puts, patches, the cap and retention",
  (pg) =>
    withMigratedDatabase(pg, async (clients) => {
      const admin = clients.open(2);
      const [fence] = await leasedSessions(admin, ["shop-1"]);
      let now = new Date(T0);
      const retention = { maxAgeMs: 86_400_000, maxBytesPerSession: 20_000 };
      const store = postgresMessageStore(clients, { retention, clock: () => now });
      await store.open();
      for (let i = 0; i < 40; i++) {
        await store.put(fence, [storedText(`M${i}`, T0 + i * 1000, { bytes: 900 })]);
        await store.patch(fence, [{ id: `M${i}`, content: new Uint8Array(i * 10) }]);
        await assertByteCountExact(admin);
      }
      const [{ bytes }] = await admin<{ bytes: string }[]>`SELECT bytes FROM message_sessions`;
      assert.ok(Number(bytes) <= retention.maxBytesPerSession);
      now = new Date(T0 + 86_400_000 + 20_500);
      assert.ok((await store.prune(now)) > 0);
      await assertByteCountExact(admin);
      await store.close();
    }),
);

postgresTest(
  "removing a session removes its messages and idempotency records with it",
  (pg) =>
    withMigratedDatabase(pg, async (clients) => {
      const admin = clients.open(2);
      const [fence] = await leasedSessions(admin, ["shop-1"]);
      const messages = postgresMessageStore(clients);
      await messages.open();
      await messages.put(fence, [storedText("A1", T0)]);
      await messages.idempotency.claim(fence, keyRecord("k", { messageId: "A1" }));
      const sessions = new PostgresSessionStore({
        sql: clients.open(),
        nodeId: "node-a",
        logger: silentLogger,
      });
      await sessions.open();
      await sessions.remove(S1);
      const [left] = await admin<{ rows: string }[]>`
      SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM idempotency_records) +
        (SELECT count(*) FROM message_sessions) AS rows`;
      assert.equal(Number(left.rows), 0);
      await sessions.close();
      await messages.close();
    }),
);

async function assertByteCountExact(admin: ReturnType<TestClients["open"]>): Promise<void> {
  const rows = await admin<{ counted: string; stored: string }[]>`
    SELECT s.bytes AS counted, coalesce(sum(m.size), 0) AS stored
    FROM message_sessions s LEFT JOIN messages m USING (session_id) GROUP BY s.bytes`;
  for (const row of rows) assert.equal(Number(row.counted), Number(row.stored));
}
