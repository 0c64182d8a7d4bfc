/**
 * Issue 16's groups against the fake WhatsApp server: the gateway, as a real child process,
 * creates a group of three simulated members (two devices each), sends it messages every member
 * device decrypts (Baileys' sender keys), receives a member's message with its participant,
 * reports participant and info changes as events (webhook and SSE), stops reaching a removed
 * member, and keeps sending after a kill -9 with the sender keys it stored.
 */
import { strict as assert } from "node:assert";
import type { FakeWhatsApp } from "../support/fake_whatsapp/server.ts";
import type { GatewayClient } from "../support/gateway_client.ts";
import { startFakeGateway } from "../support/fake_gateway.ts";
import type { GatewayProcess } from "../support/gateway_process.ts";
import { withLinkedGateway } from "../support/linked_gateway.ts";
import { mediaFixture } from "../support/media_fixtures.ts";
import { type EventStream, openEventStream } from "../support/sse_client.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook_receiver.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const SECRET = "e2e-webhook-secret-0123456789";
const ACCOUNT = "15550001111";
const MEMBERS = ["15550002001", "15550002002", "15550002003"];
const NEWCOMER = "15550002004";
const EVENTS = "message.received,group.updated,group.participants";
const pn = (phone: string) => `${phone}@s.whatsapp.net`;
const base64 = (bytes: Uint8Array) =>
  btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));

interface World {
  fake: FakeWhatsApp;
  gateway: GatewayProcess;
  client: GatewayClient;
  dataDir: string;
  receiver: WebhookReceiver;
  stream: EventStream;
}

/** A linked session `shop-1`, three members and a newcomer (two devices each), webhook + SSE. */
async function withGroupWorld(fn: (world: World) => Promise<void>): Promise<void> {
  const receiver = startWebhookReceiver({ secret: SECRET });
  try {
    await withLinkedGateway("shop-1", ACCOUNT, async ({ fake, gateway, client, dataDir }) => {
      for (const phone of [...MEMBERS, NEWCOMER]) {
        fake.addContact({ phoneNumber: phone, pushName: `Member ${phone.slice(-1)}`, devices: 2 });
      }
      const stream = await openEventStream(
        `${gateway.url}/api/events?session=shop-1&types=${EVENTS}`,
        { "x-api-key": gateway.apiKey! },
      );
      try {
        await fn({ fake, gateway, client, dataDir, receiver, stream });
      } finally {
        await stream.close();
      }
    }, {
      pushName: "Shop",
      env: {
        WEBHOOK_URL: receiver.url,
        WEBHOOK_SECRET: SECRET,
        WEBHOOK_EVENTS: EVENTS,
        WEBHOOK_RETRY_INITIAL_DELAY_MS: "50",
      },
    });
  } finally {
    await receiver.close();
  }
}

// deno-lint-ignore no-explicit-any
type Json = any;

async function createGroup(client: GatewayClient): Promise<Json> {
  const { status, body } = await client.json<Json>("POST", "/api/sessions/shop-1/groups", {
    subject: "Customers",
    participants: MEMBERS.map((phone) => `+${phone}`),
  });
  assert.equal(status, 201, JSON.stringify(body));
  return body;
}

async function sendText(client: GatewayClient, to: string, text: string): Promise<string> {
  const { status, body } = await client.json<Json>("POST", "/api/sessions/shop-1/messages", {
    type: "text",
    to,
    text,
  });
  assert.equal(status, 201, JSON.stringify(body));
  assert.equal(body.status, "sent");
  return body.id;
}

/** Waits until both devices of each of `phones` decrypted message `id`. */
async function everyDeviceDecrypted(fake: FakeWhatsApp, id: string, phones: string[]) {
  for (const phone of phones) {
    for (const device of [0, 1]) {
      await fake.waitForReceived((m) => m.id === id && m.to === phone && m.device === device);
    }
  }
}

Deno.test(
  "a group of three: created over REST, every member's devices decrypt its texts, a member's text arrives with its participant",
  e2e,
  () =>
    withGroupWorld(async ({ fake, client, receiver, stream }) => {
      const group = await createGroup(client);
      assert.match(group.jid, /^\d+@g\.us$/);
      assert.equal(group.subject, "Customers");
      const admins = Object.fromEntries(
        group.participants.map((p: Json) => [p.phoneNumber, p.admin]),
      );
      assert.deepEqual(admins, {
        [ACCOUNT]: "superadmin",
        [MEMBERS[0]]: null,
        [MEMBERS[1]]: null,
        [MEMBERS[2]]: null,
      });
      assert.equal(group.inviteCode, fake.groups.get(group.jid)!.inviteCode);

      const listed = await client.json<Json>("GET", "/api/sessions/shop-1/groups");
      assert.deepEqual(listed.body.groups.map((g: Json) => [g.jid, g.subject, g.size]), [
        [group.jid, "Customers", 4],
      ]);
      const { body: read } = await client.json<Json>(
        "GET",
        `/api/sessions/shop-1/groups/${group.jid}`,
      );
      assert.equal(read.participants.length, 4);
      assert.equal(read.settings.announce, false);

      const queries = fake.groups.get(group.jid)!.metadataQueries;
      const first = await sendText(client, group.jid, "Sale starts now 🎉");
      await everyDeviceDecrypted(fake, first, MEMBERS);
      const received = fake.receivedMessages({ to: MEMBERS[2] }).find((m) => m.id === first)!;
      assert.equal(received.text, "Sale starts now 🎉");
      assert.equal(received.group, group.jid);
      const second = await sendText(client, group.jid, "Second text");
      await everyDeviceDecrypted(fake, second, MEMBERS);
      assert.deepEqual(fake.groups.failures(), []);
      assert.equal(
        fake.groups.get(group.jid)!.metadataQueries,
        queries,
        "sends use the cached metadata, no query to WhatsApp",
      );
      const records = fake.groups.sends();
      assert.equal(records.find((r) => r.id === first)!.senderKeyTo.length, 6);
      assert.deepEqual(records.find((r) => r.id === second)!.senderKeyTo, []);

      const { id } = await fake.groups.sendText({
        from: MEMBERS[0],
        group: group.jid,
        text: "When does it end?",
      });
      const [hook] = await receiver.waitFor((all) =>
        all.some((d) => d.event.type === "message.received" && d.event.data.message.id === id)
      ).then((all) => all.filter((d) => d.event.data.message?.id === id));
      const message = hook.event.data.message;
      assert.equal(message.chat, group.jid);
      assert.equal(message.from, group.jid);
      assert.equal(message.participant, pn(MEMBERS[0]));
      assert.equal(message.fromPhoneNumber, MEMBERS[0]);
      assert.equal(message.text, "When does it end?");
      assert.ok(hook.validSignature);
      const streamed = await stream.waitFor((all) =>
        all.some((m) => m.event === "message.received" && m.data.data.message.id === id)
      );
      assert.ok(streamed.length > 0);

      const history = await client.json<Json>(
        "GET",
        `/api/sessions/shop-1/chats/${group.jid}/messages`,
      );
      assert.equal(history.status, 200, JSON.stringify(history.body));
      const stored = history.body.items.find((m: Json) => m.id === id);
      assert.equal(stored.chat, group.jid, "the group's chat keeps the member's message");
      assert.ok(history.body.items.some((m: Json) => m.id === first && m.fromMe));
    }),
);

Deno.test(
  "every message type reaches the group's members, an image included",
  e2e,
  () =>
    withGroupWorld(async ({ fake, client }) => {
      const group = await createGroup(client);
      const text = await sendText(client, group.jid, "first");
      const picture = mediaFixture("image", 30_000, 7);
      const bodies = [
        { type: "location", latitude: 52.52, longitude: 13.405, name: "Shop" },
        { type: "reaction", messageId: text, emoji: "👍" },
        { type: "poll", name: "Which day?", options: ["Mon", "Tue"], selectableCount: 1 },
        {
          type: "contact",
          contacts: [{
            name: "Help desk",
            vcard: "BEGIN:VCARD\nVERSION:3.0\nFN:Help desk\nEND:VCARD",
          }],
        },
        { type: "text", text: "a reply", quotedMessageId: text },
        {
          type: "image",
          media: { base64: base64(picture.bytes), mimetype: picture.mimetype },
          caption: "the menu",
        },
      ];
      for (const body of bodies) {
        const sent = await client.json<Json>("POST", "/api/sessions/shop-1/messages", {
          ...body,
          to: group.jid,
        });
        assert.equal(sent.status, 201, JSON.stringify(sent.body));
        await everyDeviceDecrypted(fake, sent.body.id, MEMBERS);
      }
      const contents = fake.receivedMessages({ to: MEMBERS[1] }).filter((m) => m.device === 0)
        .map((m) => m.message);
      assert.ok(contents.some((m) => m.locationMessage?.name === "Shop"));
      assert.ok(contents.some((m) => m.reactionMessage?.text === "👍"));
      assert.ok(contents.some((m) =>
        (m.pollCreationMessage ?? m.pollCreationMessageV3)?.name === "Which day?"
      ));
      assert.ok(contents.some((m) =>
        m.contactMessage?.displayName === "Help desk"
      ));
      assert.ok(contents.some((m) => m.extendedTextMessage?.contextInfo?.stanzaId === text));
      // Every member's device downloaded, checked and decrypted the very bytes sent.
      const images = fake.receivedMessages({ to: MEMBERS[2] }).filter((m) => m.media);
      assert.equal(images.length, 2, "one image on each of the member's devices");
      for (const image of images) {
        assert.deepEqual(image.media!.bytes, picture.bytes);
        assert.equal(image.media!.caption, "the menu");
      }
    }),
);

Deno.test(
  "participant and info changes arrive as events; a removed member no longer receives, an added one does",
  e2e,
  () =>
    withGroupWorld(async ({ fake, client, receiver, stream }) => {
      const group = await createGroup(client);
      await everyDeviceDecrypted(fake, await sendText(client, group.jid, "welcome"), MEMBERS);
      const groupEvents = (type: string, action?: string) =>
        receiver.accepted().map((d) => d.event).filter((e) =>
          e.type === type && (!action || e.data.action === action)
        );
      // The group's creation came as an add of everyone.
      await receiver.waitFor(() => groupEvents("group.participants", "add").length === 1);
      assert.equal(groupEvents("group.participants", "add")[0].data.participants.length, 4);

      const changed = await client.json<Json>(
        "POST",
        `/api/sessions/shop-1/groups/${group.jid}/participants`,
        { action: "remove", participants: [MEMBERS[1], "15559999999"] },
      );
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      assert.deepEqual(changed.body.results.map((r: Json) => [r.jid, r.ok, r.status]), [
        [pn(MEMBERS[1]), true, 200],
        ["15559999999@s.whatsapp.net", false, 404],
      ]);
      await receiver.waitFor(() => groupEvents("group.participants", "remove").length === 1);
      const removal = groupEvents("group.participants", "remove")[0].data;
      assert.equal(removal.group, group.jid);
      assert.equal(removal.action, "remove");
      assert.equal(removal.author, pn(ACCOUNT));
      assert.deepEqual(removal.participants.map((p: Json) => p.jid), [pn(MEMBERS[1])]);

      const promoted = await client.json<Json>(
        "POST",
        `/api/sessions/shop-1/groups/${group.jid}/participants`,
        { action: "promote", participants: [MEMBERS[0]] },
      );
      assert.equal(promoted.body.results[0].ok, true);
      // A member the account made admin adds someone: only WhatsApp's notification tells.
      fake.groups.changeParticipants({
        group: group.jid,
        actor: MEMBERS[0],
        action: "add",
        participants: [NEWCOMER],
      });
      await receiver.waitFor(() => groupEvents("group.participants", "add").length === 2);
      assert.equal(groupEvents("group.participants", "promote").length, 1);
      const added = groupEvents("group.participants", "add")[1].data;
      assert.equal(added.author, pn(MEMBERS[0]));
      assert.deepEqual(added.participants.map((p: Json) => p.phoneNumber), [NEWCOMER]);

      const queries = fake.groups.get(group.jid)!.metadataQueries;
      fake.groups.leakTo(MEMBERS[1]);
      const after = await sendText(client, group.jid, "after the changes");
      await everyDeviceDecrypted(fake, after, [MEMBERS[0], MEMBERS[2], NEWCOMER]);
      assert.equal(fake.groups.get(group.jid)!.metadataQueries, queries, "the cache followed");
      assert.deepEqual(
        fake.groups.leaks().filter((l) => l.id === after).map((l) => [l.to, l.decrypted]),
        [[MEMBERS[1], false]],
        "a new sender key: the removed member cannot read it even if the server leaks it",
      );
      assert.equal(
        fake.groups.sends().find((r) => r.id === after)!.senderKeyTo.length,
        6,
        "the new key went to the three members' two devices each",
      );
      const stillSending = await sendText(client, group.jid, "one more");
      await everyDeviceDecrypted(fake, stillSending, [NEWCOMER]);
      // Removed by another admin: only WhatsApp's notification tells, and the key changes too.
      fake.groups.changeParticipants({
        group: group.jid,
        actor: MEMBERS[0],
        action: "remove",
        participants: [NEWCOMER],
      });
      await receiver.waitFor(() => groupEvents("group.participants", "remove").length === 2);
      fake.groups.leakTo(NEWCOMER);
      const later = await sendText(client, group.jid, "without the newcomer");
      await everyDeviceDecrypted(fake, later, [MEMBERS[0], MEMBERS[2]]);
      assert.deepEqual(
        fake.groups.leaks().filter((l) => l.id === later).map((l) => [l.to, l.decrypted]),
        [[MEMBERS[1], false], [NEWCOMER, false]],
      );
      assert.equal(
        fake.receivedMessages({ to: MEMBERS[1] }).filter((m) => m.id === after).length,
        0,
        "the removed member got nothing",
      );
      assert.deepEqual(fake.groups.failures(), []);

      const updated = await client.json<Json>("PATCH", `/api/sessions/shop-1/groups/${group.jid}`, {
        subject: "VIP customers",
        description: "Deals first",
        announce: true,
      });
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      assert.equal(updated.body.subject, "VIP customers");
      assert.equal(updated.body.description, "Deals first");
      assert.equal(updated.body.settings.announce, true);
      const infos = await receiver.waitFor(() => groupEvents("group.updated").length >= 3);
      const changes = infos.map((d) => d.event).filter((e) => e.type === "group.updated")
        .map((e) => e.data.changes);
      assert.deepEqual(changes, [{ subject: "VIP customers" }, { description: "Deals first" }, {
        announce: true,
      }]);
      await stream.waitFor((all) => all.filter((m) => m.event === "group.updated").length >= 3);
      await stream.waitFor((all) =>
        all.filter((m) => m.event === "group.participants").length >= 4
      );

      const invite = await client.json<Json>(
        "GET",
        `/api/sessions/shop-1/groups/${group.jid}/invite`,
      );
      assert.equal(invite.body.link, `https://chat.whatsapp.com/${invite.body.code}`);
      const revoked = await client.json<Json>(
        "POST",
        `/api/sessions/shop-1/groups/${group.jid}/invite/revoke`,
      );
      assert.notEqual(revoked.body.code, invite.body.code);
      assert.equal(fake.groups.get(group.jid)!.inviteCode, revoked.body.code);

      const left = await client.request("POST", `/api/sessions/shop-1/groups/${group.jid}/leave`);
      assert.equal(left.status, 204);
      assert.equal(fake.groups.get(group.jid)!.participants[ACCOUNT], undefined);
    }),
);

Deno.test(
  "joining by invite link; unknown group 404, not an admin 403 with WhatsApp's reason, invalid JIDs 400",
  e2e,
  () =>
    withGroupWorld(async ({ fake, client }) => {
      const theirs = fake.groups.create({
        creator: MEMBERS[0],
        subject: "Their group",
        members: [MEMBERS[1]],
      });
      const joined = await client.json<Json>("POST", "/api/sessions/shop-1/groups/join", {
        code: `https://chat.whatsapp.com/${theirs.inviteCode}`,
      });
      assert.equal(joined.status, 200, JSON.stringify(joined.body));
      assert.equal(joined.body.jid, theirs.jid);
      assert.equal(fake.groups.get(theirs.jid)!.participants[ACCOUNT], null);

      const refused = await client.json<Json>(
        "POST",
        `/api/sessions/shop-1/groups/${theirs.jid}/participants`,
        { action: "add", participants: [MEMBERS[2]] },
      );
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, "whatsapp_forbidden");
      assert.match(refused.body.error.message, /forbidden/);
      assert.equal(fake.groups.get(theirs.jid)!.participants[MEMBERS[2]], undefined);
      const info = await client.json<Json>("GET", `/api/sessions/shop-1/groups/${theirs.jid}`);
      assert.equal(info.body.inviteCode, null, "no invite code for a non-admin");

      const unknown = await client.json<Json>(
        "GET",
        "/api/sessions/shop-1/groups/120363999999999999@g.us",
      );
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error.code, "group_not_found");
      const badCode = await client.json<Json>("POST", "/api/sessions/shop-1/groups/join", {
        code: "AAAAAAAAAAAAAAAAAAAAAA",
      });
      assert.equal(badCode.status, 404);

      for (
        const [method, path, body] of [
          ["GET", "/api/sessions/shop-1/groups/not-a-group", undefined],
          ["GET", `/api/sessions/shop-1/groups/${pn(MEMBERS[0])}`, undefined],
          ["POST", "/api/sessions/shop-1/groups", { subject: "x", participants: ["abc"] }],
          ["POST", "/api/sessions/shop-1/groups", { subject: "", participants: [MEMBERS[0]] }],
          ["POST", `/api/sessions/shop-1/groups/${theirs.jid}/participants`, {
            action: "add",
            participants: ["120363000000000001@g.us"],
          }],
          ["POST", `/api/sessions/shop-1/groups/${theirs.jid}/participants`, {
            action: "ban",
            participants: [MEMBERS[2]],
          }],
          ["POST", "/api/sessions/shop-1/messages", {
            type: "text",
            to: "1203@g.us.evil",
            text: "x",
          }],
          ["POST", "/api/sessions/shop-1/groups/join", { code: "not a code!" }],
        ] as const
      ) {
        const answer = await client.json<Json>(method, path, body);
        assert.equal(answer.status, 400, `${method} ${path}: ${JSON.stringify(answer.body)}`);
      }
      assert.equal(fake.groups.all().length, 1, "nothing was created");
    }),
);

Deno.test(
  "after kill -9 the restored session keeps sending to the group with the sender keys it stored",
  e2e,
  () =>
    withGroupWorld(async ({ fake, gateway, client, dataDir, receiver }) => {
      const group = await createGroup(client);
      await everyDeviceDecrypted(fake, await sendText(client, group.jid, "before"), MEMBERS);
      const { id: before } = await fake.groups.sendText({
        from: MEMBERS[2],
        group: group.jid,
        text: "member before",
      });
      await receiver.waitFor((all) => all.some((d) => d.event.data.message?.id === before));

      gateway.kill("SIGKILL");
      await gateway.exited;
      const { gateway: second, client: again } = await startFakeGateway(fake, dataDir, {
        WEBHOOK_URL: receiver.url,
        WEBHOOK_SECRET: SECRET,
        WEBHOOK_EVENTS: EVENTS,
      });
      try {
        await again.waitForStatus("shop-1", "connected");
        const after = await sendText(again, group.jid, "after the crash");
        await everyDeviceDecrypted(fake, after, MEMBERS);
        assert.deepEqual(
          fake.groups.sends().find((r) => r.id === after)!.senderKeyTo,
          [],
          "the stored sender key, not a new one",
        );
        assert.deepEqual(fake.groups.failures(), []);
        const { id } = await fake.groups.sendText({
          from: MEMBERS[2],
          group: group.jid,
          text: "member after",
        });
        const [hook] = await receiver.waitFor((all) =>
          all.some((d) => d.event.data.message?.id === id)
        ).then((all) => all.filter((d) => d.event.data.message?.id === id));
        assert.equal(hook.event.data.message.text, "member after", "the member's key was kept");
      } finally {
        await second.dispose();
      }
    }),
);
