/**
 * Issue 16's contacts, presence and own profile against the fake WhatsApp server: a contact's
 * picture URL, about text and business profile; block and unblock; presence subscriptions that
 * become `presence.update` events; the account's own about text and picture.
 */
import { strict as assert } from "node:assert";
import { linkSession, runFakeGateway, withFakeServer } from "../support/fake_gateway.ts";
import { withLinkedGateway } from "../support/linked_gateway.ts";
import { openEventStream } from "../support/sse_client.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const ACCOUNT = "15550001111";
const SHOP = "15550003001";
const FRIEND = "15550003002";
// deno-lint-ignore no-explicit-any
type Json = any;
/** The start of a JPEG file, enough for WhatsApp's fake to keep. */
const JPEG = new Uint8Array([
  0xff,
  0xd8,
  0xff,
  0xe0,
  0x00,
  0x10,
  0x4a,
  0x46,
  0x49,
  0x46,
  0xff,
  0xd9,
]);

Deno.test(
  "a contact's picture, about and business profile; block and unblock; bad JIDs 400",
  e2e,
  () =>
    withLinkedGateway("shop-1", ACCOUNT, async ({ fake, client }) => {
      fake.addContact({ phoneNumber: SHOP, pushName: "Corner shop" });
      fake.addContact({ phoneNumber: FRIEND, pushName: "Friend" });
      fake.profiles.setPicture(SHOP, JPEG);
      fake.profiles.setAbout(SHOP, "Open 9-5");
      fake.profiles.setBusiness(SHOP, {
        description: "Fresh bread",
        category: "Bakery",
        email: "hello@shop.test",
        website: "https://shop.test",
        address: "1 Main St",
      });

      const { status, body } = await client.json<Json>(
        "GET",
        `/api/sessions/shop-1/contacts/+${SHOP}`,
      );
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.jid, `${SHOP}@s.whatsapp.net`);
      assert.equal(body.about, "Open 9-5");
      assert.ok(body.aboutSetAt);
      assert.deepEqual(body.business, {
        description: "Fresh bread",
        category: "Bakery",
        email: "hello@shop.test",
        website: "https://shop.test",
        address: "1 Main St",
      });
      const picture = await fetch(body.pictureUrl);
      assert.deepEqual(new Uint8Array(await picture.arrayBuffer()), JPEG);

      const plain = await client.json<Json>("GET", `/api/sessions/shop-1/contacts/${FRIEND}`);
      assert.deepEqual(plain.body, {
        jid: `${FRIEND}@s.whatsapp.net`,
        pictureUrl: null,
        about: null,
        aboutSetAt: null,
        business: null,
      });

      const blocked = await client.request("POST", `/api/sessions/shop-1/contacts/${FRIEND}/block`);
      assert.equal(blocked.status, 204);
      assert.deepEqual(fake.profiles.blocked(ACCOUNT), [FRIEND]);
      const list = await client.json<Json>("GET", "/api/sessions/shop-1/blocklist");
      assert.deepEqual(list.body.jids, [`${FRIEND}@s.whatsapp.net`]);
      const unblocked = await client.request(
        "POST",
        `/api/sessions/shop-1/contacts/${FRIEND}/unblock`,
      );
      assert.equal(unblocked.status, 204);
      assert.deepEqual(fake.profiles.blocked(ACCOUNT), []);

      for (
        const path of [
          "/api/sessions/shop-1/contacts/hello",
          "/api/sessions/shop-1/contacts/120363000000000001@g.us",
          "/api/sessions/shop-1/contacts/123/block",
        ]
      ) {
        const method = path.endsWith("block") ? "POST" : "GET";
        const answer = await client.json<Json>(method, path);
        assert.equal(answer.status, 400, `${path}: ${JSON.stringify(answer.body)}`);
      }
    }),
);

Deno.test(
  "a presence subscription reports online, last seen and typing as presence.update",
  e2e,
  () =>
    withLinkedGateway("shop-1", ACCOUNT, async ({ fake, gateway, client }) => {
      fake.addContact({ phoneNumber: FRIEND, pushName: "Friend" });
      fake.profiles.setPresence(FRIEND, { state: "available" });
      const stream = await openEventStream(
        `${gateway.url}/api/events?session=shop-1&types=presence.update`,
        { "x-api-key": gateway.apiKey! },
      );
      try {
        const subscribed = await client.request(
          "POST",
          `/api/sessions/shop-1/contacts/${FRIEND}/presence/subscribe`,
        );
        assert.equal(subscribed.status, 202);
        const presences = (all: { data: Json }[]) =>
          all.map((m) => [m.data.data.jid, m.data.data.presence, m.data.data.lastSeen]);
        await stream.waitFor((all) => all.length >= 1);
        const lastSeen = Math.floor(Date.now() / 1000) - 60;
        fake.profiles.setPresence(FRIEND, { state: "unavailable", lastSeen });
        fake.sendChatState({ from: FRIEND, to: ACCOUNT, state: "composing" });
        const all = await stream.waitFor((all) => all.length >= 3);
        const jid = `${FRIEND}@s.whatsapp.net`;
        assert.deepEqual(presences(all), [
          [jid, "available", null],
          [jid, "unavailable", new Date(lastSeen * 1000).toISOString()],
          [jid, "composing", null],
        ]);
        assert.equal(all[0].data.data.chat, jid);
      } finally {
        await stream.close();
      }
    }),
);

Deno.test(
  "the account's own profile: name, about text and picture",
  e2e,
  () =>
    withLinkedGateway("shop-1", ACCOUNT, async ({ fake, client }) => {
      const { status, body } = await client.json<Json>("GET", "/api/sessions/shop-1/profile");
      assert.equal(status, 200, JSON.stringify(body));
      assert.deepEqual(body, {
        jid: `${ACCOUNT}@s.whatsapp.net`,
        phoneNumber: ACCOUNT,
        name: "Shop",
        about: null,
        pictureUrl: null,
      });

      const updated = await client.json<Json>("PATCH", "/api/sessions/shop-1/profile", {
        about: "Deliveries every day",
      });
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      assert.equal(updated.body.about, "Deliveries every day");
      assert.equal(fake.profiles.about(ACCOUNT), "Deliveries every day");

      const renamed = await client.json<Json>("PATCH", "/api/sessions/shop-1/profile", {
        name: "Corner Shop",
      });
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
      assert.equal(renamed.body.name, "Corner Shop");
      const deadline = Date.now() + 10_000;
      while (fake.profiles.name(ACCOUNT) !== "Corner Shop") {
        assert.ok(Date.now() < deadline, "the phone never read the new name");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await client.waitForSession("shop-1", (s) => s?.pushName === "Corner Shop", {
        what: "the session's new push name",
      });

      const set = await client.fetchRaw("/api/sessions/shop-1/profile/picture", {
        method: "POST",
        headers: { "content-type": "image/jpeg" },
        body: JPEG,
      });
      assert.equal(set.status, 204, await set.text());
      assert.deepEqual(fake.profiles.picture(ACCOUNT), JPEG);
      const withPicture = await client.json<Json>("GET", "/api/sessions/shop-1/profile");
      assert.ok(withPicture.body.pictureUrl);

      const notJpeg = await client.fetchRaw("/api/sessions/shop-1/profile/picture", {
        method: "POST",
        headers: { "content-type": "image/jpeg" },
        body: new TextEncoder().encode("GIF89a not a jpeg"),
      });
      assert.equal(notJpeg.status, 400, await notJpeg.text());
      const wrongType = await client.fetchRaw("/api/sessions/shop-1/profile/picture", {
        method: "POST",
        headers: { "content-type": "image/png" },
        body: JPEG,
      });
      assert.equal(wrongType.status, 415, await wrongType.text());
      assert.deepEqual(fake.profiles.picture(ACCOUNT), JPEG, "the refused ones changed nothing");

      const removed = await client.request("DELETE", "/api/sessions/shop-1/profile/picture");
      assert.equal(removed.status, 204);
      assert.equal(fake.profiles.picture(ACCOUNT), undefined);
      const tooLong = await client.json<Json>("PATCH", "/api/sessions/shop-1/profile", {
        about: "x".repeat(140),
      });
      assert.equal(tooLong.status, 400);
    }, { pushName: "Shop" }),
);

Deno.test(
  "a name change waits for the app state key the phone shares after linking, else is a 409 to retry",
  e2e,
  () =>
    withFakeServer((fake, dataDir) =>
      runFakeGateway(fake, dataDir, {}, async ({ client }) => {
        fake.holdAppStateKeyShares();
        await linkSession(client, fake, "shop-1", ACCOUNT);
        const path = "/api/sessions/shop-1/profile";
        // Without the key for the whole wait: a 409 that says to try again, and nothing changed.
        const refused = await client.json<Json>("PATCH", path, { name: "Corner Shop" });
        assert.equal(refused.status, 409, JSON.stringify(refused.body));
        assert.equal(refused.body.error.code, "app_state_not_synced");
        assert.notEqual(fake.profiles.name(ACCOUNT), "Corner Shop");
        // The key arrives while a change waits for it: the change goes through.
        const pending = client.json<Json>("PATCH", path, { name: "Corner Shop" });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        await fake.releaseAppStateKeyShares();
        const renamed = await pending;
        assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
        const deadline = Date.now() + 10_000;
        while (fake.profiles.name(ACCOUNT) !== "Corner Shop") {
          assert.ok(Date.now() < deadline, "the phone never read the new name");
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })
    ),
);
