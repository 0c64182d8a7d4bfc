/**
 * `deno task migrate-store`: a linked session's data directory copied into PostgreSQL and back
 * (each copy verified, its stored messages and idempotency records too), and the session
 * reconnecting from the copy without a QR, its history and idempotent sends intact.
 */
import { strict as assert } from "node:assert";
import postgres from "postgres";
import { linkSession, startFakeGateway, withFakeServer } from "../support/fake_gateway.ts";
import { stopGracefully, taskFlags } from "../support/gateway_process.ts";
import type { GatewayClient } from "../support/gateway_client.ts";
import { postgresTest } from "../support/postgres_test.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const ROOT = new URL("../../", import.meta.url).pathname;
/** Nothing listens here: webhook deliveries stay pending, so the copy has some to move. */
const DEAD_WEBHOOK = "http://127.0.0.1:9/hook";
const CONTACT = "15550009999";
const HISTORY = `/api/sessions/shop-1/chats/${CONTACT}@s.whatsapp.net/messages`;
const SEND = { type: "text", to: CONTACT, text: "sent before the copy" };

async function migrateStore(direction: string, dataDir: string, databaseUrl: string) {
  const flags = await taskFlags("migrate-store", dataDir);
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, `${ROOT}src/migrate_store_cli.ts`, direction],
    env: { SESSIONS_DATA_PATH: dataDir, DATABASE_URL: databaseUrl },
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  return { code: output.code, text };
}

/** The send of `SEND` with one `Idempotency-Key` (a structured-field string). */
function idempotentSend(client: GatewayClient): Promise<Response> {
  return fetch(`${client.baseUrl}/api/sessions/shop-1/messages`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "idempotency-key": '"order-1"',
      ...(client.apiKey ? { "x-api-key": client.apiKey } : {}),
    },
    body: JSON.stringify(SEND),
  });
}

const statusLines = (logs: Record<string, unknown>[], id: string) =>
  logs.filter((line) => line.msg === "session status changed" && line.sessionId === id)
    .map((line) => line.status);

postgresTest(
  "a linked session copied into PostgreSQL and back reconnects without a QR",
  (pg) =>
    withFakeServer(async (fake, dataDir) => {
      const env = {
        WEBHOOK_URL: DEAD_WEBHOOK,
        WEBHOOK_SECRET: "webhook-secret-0123456789",
        WEBHOOK_RETRY_INITIAL_DELAY_MS: "60000",
        WEBHOOK_RETRY_MAX_DELAY_MS: "60000",
      };
      const first = await startFakeGateway(fake, dataDir, env);
      let linked;
      let sentId = "";
      try {
        linked = await linkSession(first.client, fake, "shop-1", "15550001111");
        fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
        const sent = await idempotentSend(first.client);
        assert.equal(sent.status, 201);
        sentId = (await sent.json()).id;
        await fake.waitForReceived((m) => m.id === sentId);
        const running = await migrateStore("to-postgres", dataDir, pg.url);
        assert.equal(running.code, 1, running.text);
        assert.match(running.text, /lock/i, "refused while the gateway runs");
        await stopGracefully(first.gateway);
      } finally {
        await first.gateway.dispose();
      }

      const there = await migrateStore("to-postgres", dataDir, pg.url);
      assert.equal(there.code, 0, there.text);
      assert.match(
        there.text,
        /copied and verified 1 session\(s\), \d+ auth file\(s\), 1 stored message\(s\), 1 idempotency record\(s\), [1-9]\d* pending/,
      );
      const sql = postgres(pg.url, { max: 1 });
      try {
        const [row] = await sql`SELECT phone_number, status FROM sessions WHERE id = 'shop-1'`;
        assert.equal(row.phone_number, "15550001111");
        const [files] =
          await sql`SELECT count(*)::int AS n FROM auth_files WHERE session_id = 'shop-1'`;
        assert.ok(files.n > 100, "creds and keys");
        const stored = await sql`SELECT id FROM messages WHERE session_id = 'shop-1'`;
        assert.deepEqual(stored.map((r) => r.id), [sentId]);
        const [leases] = await sql`SELECT count(*)::int AS n FROM leases WHERE holder IS NOT NULL`;
        assert.equal(leases.n, 0, "the copy released its leases");
      } finally {
        await sql.end();
      }
      const again = await migrateStore("to-postgres", dataDir, pg.url);
      assert.equal(again.code, 1, again.text);
      assert.match(again.text, /already holds 1 session/);

      const back = `${dataDir}-back`;
      try {
        const returned = await migrateStore("to-file", back, pg.url);
        assert.equal(returned.code, 0, returned.text);
        const second = await startFakeGateway(fake, back, env);
        try {
          const after = await second.client.waitForStatus("shop-1", "connected");
          assert.equal(after.phoneNumber, linked.phoneNumber);
          assert.equal(after.createdAt, linked.createdAt);
          assert.ok(!statusLines(second.gateway.logs, "shop-1").includes("qr"), "no QR");
          assert.equal(fake.devices().filter((d) => d.phoneNumber === "15550001111").length, 1);
          const history = await second.client.json<{ items: { id: string }[] }>("GET", HISTORY);
          assert.deepEqual(history.body.items.map((m) => m.id), [sentId], "history copied back");
          const retried = await idempotentSend(second.client);
          assert.equal(retried.status, 201);
          assert.equal((await retried.json()).id, sentId, "the key's answer copied back");
        } finally {
          await second.gateway.dispose();
        }
      } finally {
        await Deno.remove(back, { recursive: true }).catch(() => {});
      }
    }),
  e2e,
);
