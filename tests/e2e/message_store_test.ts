/**
 * The message store against the fake WhatsApp server, through the gateway as a child process:
 * retry receipts answered from the store, chats and history across a restart, retention, and
 * no Baileys warning about disabled history sync.
 */
import { strict as assert } from "node:assert";
import { linkSession, startFakeGateway, withFakeServer } from "../support/fake_gateway.ts";
import { stopGracefully } from "../support/gateway_process.ts";
import { FileMessageStore } from "../../src/persistence/message_store/file_message_store.ts";
import type { SessionId } from "../../src/domain/session_id.ts";
import { storedText } from "../support/message_store_contract.ts";
import { testLogger } from "../support/logger.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const ACCOUNT = "15550001111";
const CONTACT = "15550009999";
const CONTACT_JID = `${CONTACT}@s.whatsapp.net`;

async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, what: string) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test(
  "a contact that cannot decrypt asks again: the gateway re-sends from its store, after a restart of the session",
  e2e,
  () =>
    withFakeServer(async (fake, dataDir) => {
      const { gateway, client } = await startFakeGateway(fake, dataDir);
      try {
        await linkSession(client, fake, "shop-1", ACCOUNT);
        fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
        fake.failNextDecrypt(CONTACT);
        const text = "retry me";
        const sent = await client.json<{ id: string }>("POST", "/api/sessions/shop-1/messages", {
          type: "text",
          to: CONTACT,
          text,
        });
        assert.equal(sent.status, 201);
        await waitFor(
          () => fake.undecryptedMessages().includes(sent.body.id) || undefined,
          "the failed decryption",
        );
        // A new socket: Baileys' own cache of recent sends is gone, only the store has it.
        assert.equal((await client.request("POST", "/api/sessions/shop-1/restart")).status, 200);
        await client.waitForStatus("shop-1", "connected");
        await fake.sendRetryReceipt(sent.body.id);
        const received = await fake.waitForReceived((m) => m.id === sent.body.id);
        assert.equal(received.text, text);
      } finally {
        await gateway.dispose();
      }
    }),
);

Deno.test(
  "chats and history are served from the store, paginated, and kept across a restart; retention drops old messages",
  e2e,
  () =>
    withFakeServer(async (fake, dataDir) => {
      let { gateway, client } = await startFakeGateway(fake, dataDir);
      try {
        await linkSession(client, fake, "shop-1", ACCOUNT);
        fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
        const sent = await client.json<{ id: string }>("POST", "/api/sessions/shop-1/messages", {
          type: "text",
          to: CONTACT,
          text: "first, from us",
        });
        assert.equal(sent.status, 201);
        await fake.waitForReceived((m) => m.id === sent.body.id);
        const incoming = await fake.deliverText({ from: CONTACT, to: ACCOUNT, text: "reply" });
        type Page = { items: Record<string, unknown>[]; nextCursor: string | null };
        const history = `/api/sessions/shop-1/chats/${CONTACT_JID}/messages`;
        const all = await waitFor(async () => {
          const page = await client.json<Page>("GET", history);
          return page.body.items.length === 2 ? page.body : undefined;
        }, "both messages in the history");
        assert.deepEqual(all.items.map((m) => m.id), [incoming.id, sent.body.id]);
        assert.equal(all.items[0].text, "reply");
        assert.equal(all.items[0].fromMe, false);
        assert.equal(all.items[1].fromMe, true);
        assert.equal(all.items[1].text, "first, from us");

        const first = await client.json<Page>("GET", `${history}?limit=1`);
        assert.deepEqual(first.body.items.map((m) => m.id), [incoming.id]);
        const next = await client.json<Page>(
          "GET",
          `${history}?limit=1&cursor=${first.body.nextCursor}`,
        );
        assert.deepEqual(next.body.items.map((m) => m.id), [sent.body.id]);
        assert.equal(next.body.nextCursor, null);

        const chats = await client.json<Page>("GET", "/api/sessions/shop-1/chats");
        assert.equal(chats.status, 200);
        assert.equal(chats.body.items.length, 1);
        assert.equal(chats.body.items[0].jid, CONTACT_JID);
        assert.equal(chats.body.items[0].unreadCount, 1);
        assert.equal((chats.body.items[0].lastMessage as { id: string }).id, incoming.id);
        assert.equal(
          (await client.request("GET", `${history}?cursor=not-a-cursor`)).status,
          400,
        );

        assert.ok(
          !gateway.logs.some((line) => /DISABLING ALL SYNC/.test(String(line.msg))),
          "Baileys does not warn that history sync is disabled",
        );

        await stopGracefully(gateway);
        // A message past the retention, written while the gateway is down.
        const store = new FileMessageStore({
          dataDir,
          logger: testLogger(),
          retention: { maxAgeMs: 3650 * 86_400_000, maxBytesPerSession: 1 << 30 },
        });
        await store.open();
        const old = { ...storedText("OLD1", Date.now() - 30 * 86_400_000), chat: CONTACT_JID };
        await store.put({ sessionId: "shop-1" as SessionId, epoch: 0 }, [old]);
        await store.close();

        ({ gateway, client } = await startFakeGateway(fake, dataDir));
        const after = await client.json<Page>("GET", history);
        assert.deepEqual(
          after.body.items.map((m) => m.id),
          [incoming.id, sent.body.id],
          "history survives a restart; the 30-day-old message is gone (14 days by default)",
        );

        assert.equal((await client.request("DELETE", "/api/sessions/shop-1")).status, 204);
        const left = [...Deno.readDirSync(`${dataDir}/.message-store`)].map((e) => e.name);
        assert.deepEqual(left, [], "the session's messages went with it");
      } finally {
        await gateway.dispose();
      }
    }),
);

for (const historySync of ["off", "full"] as const) {
  Deno.test(
    `history sync at login (HISTORY_SYNC=${historySync}): Baileys stores the contacts' LID mappings; old chats ${
      historySync === "full" ? "are imported" : "stay out of the store"
    }`,
    e2e,
    () =>
      withFakeServer(async (fake, dataDir) => {
        fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
        const { gateway, client } = await startFakeGateway(fake, dataDir, {
          HISTORY_SYNC: historySync,
        });
        try {
          await linkSession(client, fake, "shop-1", ACCOUNT);
          // Nothing was sent or received: only the phone's history can have told Baileys.
          await waitFor(async () => {
            try {
              await Deno.stat(`${dataDir}/shop-1/lid-mapping-${CONTACT}.json`);
              return true;
            } catch {
              return undefined;
            }
          }, "the contact's LID mapping from the history sync");
          type Page = { items: { id: string; text: string }[] };
          const history = `/api/sessions/shop-1/chats/${CONTACT_JID}/messages`;
          if (historySync === "full") {
            const page = await waitFor(async () => {
              const { body } = await client.json<Page>("GET", history);
              return body.items.length > 0 ? body : undefined;
            }, "the imported history");
            assert.deepEqual(page.items.map((m) => m.id), [`HIST${CONTACT}`]);
            assert.equal(page.items[0].text, `an old message from ${CONTACT}`);
          } else {
            await new Promise((resolve) => setTimeout(resolve, 500));
            const { body } = await client.json<Page>("GET", "/api/sessions/shop-1/chats");
            assert.deepEqual(body.items, [], "no old chat in the store");
          }
          assert.ok(
            !gateway.logs.some((line) => /DISABLING ALL SYNC/.test(String(line.msg))),
            "Baileys does not warn that history sync is disabled",
          );
        } finally {
          await gateway.dispose();
        }
      }),
  );
}
