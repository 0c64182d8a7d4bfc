/**
 * Polls, contact cards, edits and deletions both ways, read receipts and typing, through the
 * gateway as a child process against the fake WhatsApp server; events on the live stream.
 */
import { strict as assert } from "node:assert";
import { proto } from "@whiskeysockets/baileys";
import type { FakeWhatsApp } from "../support/fake_whatsapp/server.ts";
import type { GatewayClient } from "../support/gateway_client.ts";
import type { GatewayProcess } from "../support/gateway_process.ts";
import { withLinkedGateway } from "../support/linked_gateway.ts";
import { type EventStream, openEventStream, type SseMessage } from "../support/sse_client.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const ACCOUNT = "15550001111";
const CONTACT = "15550009999";
const CONTACT_JID = `${CONTACT}@s.whatsapp.net`;
const EVENTS = "poll.vote,message.edited,message.deleted,message.received";

interface World {
  fake: FakeWhatsApp;
  gateway: GatewayProcess;
  client: GatewayClient;
  stream: EventStream;
}

async function withWorld(fn: (world: World) => Promise<void>): Promise<void> {
  await withLinkedGateway("shop-1", ACCOUNT, async ({ fake, gateway, client }) => {
    fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
    const stream = await openEventStream(
      `${gateway.url}/api/events?session=shop-1&types=${EVENTS}`,
      { "x-api-key": gateway.apiKey! },
    );
    try {
      await fn({ fake, gateway, client, stream });
    } finally {
      await stream.close();
    }
  });
}

/** An event's `data` as the tests read it. */
// deno-lint-ignore no-explicit-any
type EventData = Record<string, any>;

const eventOf = (messages: SseMessage[], type: string, match: (data: EventData) => boolean) =>
  messages.find((m) => m.event === type && match(m.data.data));

async function waitForEvent(
  stream: EventStream,
  type: string,
  match: (data: EventData) => boolean,
): Promise<EventData> {
  const all = await stream.waitFor((messages) => eventOf(messages, type, match) !== undefined);
  return eventOf(all, type, match)!.data.data;
}

async function stored(client: GatewayClient, id: string) {
  const { status, body } = await client.json<Record<string, unknown>>(
    "GET",
    `/api/sessions/shop-1/messages/${id}`,
  );
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

async function sendText(client: GatewayClient, text: string): Promise<string> {
  const sent = await client.json<{ id: string }>("POST", "/api/sessions/shop-1/messages", {
    type: "text",
    to: CONTACT,
    text,
  });
  assert.equal(sent.status, 201, JSON.stringify(sent.body));
  return sent.body.id;
}

Deno.test(
  "a poll reaches the contact; its vote comes back as poll.vote with the options decrypted",
  e2e,
  () =>
    withWorld(async ({ fake, client, stream }) => {
      const sent = await client.json<{ id: string; type: string }>(
        "POST",
        "/api/sessions/shop-1/messages",
        {
          type: "poll",
          to: CONTACT,
          name: "Pickup or delivery?",
          options: ["Pickup", "Delivery", "Either"],
          selectableCount: 2,
        },
      );
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      assert.equal(sent.body.type, "poll");
      const poll = await fake.waitForReceived((m) => m.id === sent.body.id);
      const creation = poll.message.pollCreationMessage!;
      assert.equal(creation.name, "Pickup or delivery?");
      assert.deepEqual(creation.options!.map((o) => o.optionName), [
        "Pickup",
        "Delivery",
        "Either",
      ]);

      await fake.votePoll({
        from: CONTACT,
        to: ACCOUNT,
        pollId: sent.body.id,
        options: ["Delivery", "Either"],
      });
      const vote = await waitForEvent(stream, "poll.vote", (d) => d.pollMessageId === sent.body.id);
      assert.deepEqual(vote.selectedOptions, ["Delivery", "Either"]);
      assert.equal(vote.chat, CONTACT_JID);
      assert.equal(vote.voter, CONTACT_JID);

      const bad = await client.json("POST", "/api/sessions/shop-1/messages", {
        type: "poll",
        to: CONTACT,
        name: "?",
        options: ["a", "a"],
      });
      assert.equal(bad.status, 400);
    }),
);

Deno.test(
  "a contact card reaches the contact with its vCard",
  e2e,
  () =>
    withWorld(async ({ fake, client }) => {
      const vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Jane Doe\nTEL;type=CELL:+15550007777\nEND:VCARD";
      const sent = await client.json<{ id: string }>("POST", "/api/sessions/shop-1/messages", {
        type: "contact",
        to: CONTACT,
        contacts: [{ name: "Jane Doe", vcard }],
      });
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      const received = await fake.waitForReceived((m) => m.id === sent.body.id);
      assert.equal(received.message.contactMessage?.vcard, vcard);
      assert.equal(received.message.contactMessage?.displayName, "Jane Doe");
      assert.equal((await stored(client, sent.body.id)).type, "contact");
    }),
);

Deno.test(
  "edits and deletions both ways: the other side sees ours, we report theirs, the store keeps both",
  e2e,
  () =>
    withWorld(async ({ fake, client, stream }) => {
      // Ours.
      const id = await sendText(client, "pickup at 5");
      await fake.waitForReceived((m) => m.id === id);
      const edited = await client.json<Record<string, unknown>>(
        "PATCH",
        `/api/sessions/shop-1/messages/${id}`,
        { text: "pickup at 6" },
      );
      assert.equal(edited.status, 200, JSON.stringify(edited.body));
      assert.equal(edited.body.text, "pickup at 6");
      assert.ok(edited.body.editedAt);
      const edit = await fake.waitForReceived((m) =>
        m.message.protocolMessage?.type === proto.Message.ProtocolMessage.Type.MESSAGE_EDIT
      );
      assert.equal(edit.message.protocolMessage?.key?.id, id);
      assert.equal(
        edit.message.protocolMessage?.editedMessage?.extendedTextMessage?.text ??
          edit.message.protocolMessage?.editedMessage?.conversation,
        "pickup at 6",
      );
      const ourEdit = await waitForEvent(stream, "message.edited", (d) => d.messageId === id);
      assert.equal(ourEdit.fromMe, true);

      assert.equal(
        (await client.request("DELETE", `/api/sessions/shop-1/messages/${id}`)).status,
        204,
      );
      const revoke = await fake.waitForReceived((m) =>
        m.message.protocolMessage?.type === proto.Message.ProtocolMessage.Type.REVOKE
      );
      assert.equal(revoke.message.protocolMessage?.key?.id, id);
      assert.equal(
        (await waitForEvent(stream, "message.deleted", (d) => d.messageId === id)).fromMe,
        true,
      );
      assert.ok((await stored(client, id)).deletedAt);

      // Theirs.
      const { id: theirs } = await fake.deliverText({ from: CONTACT, to: ACCOUNT, text: "5 kg" });
      await waitForEvent(stream, "message.received", (d) => d.message.id === theirs);
      await fake.editMessage({ from: CONTACT, to: ACCOUNT, id: theirs, text: "6 kg" });
      const theirEdit = await waitForEvent(stream, "message.edited", (d) => d.messageId === theirs);
      assert.equal(theirEdit.fromMe, false);
      assert.equal(theirEdit.text, "6 kg");
      assert.equal(theirEdit.chat, CONTACT_JID);
      assert.equal((await stored(client, theirs)).text, "6 kg");

      await fake.deleteMessage({ from: CONTACT, to: ACCOUNT, id: theirs });
      const theirDeletion = await waitForEvent(stream, "message.deleted", (d) =>
        d.messageId === theirs);
      assert.equal(theirDeletion.fromMe, false);
      const gone = await stored(client, theirs);
      assert.ok(gone.deletedAt);
      assert.equal(gone.text, null);

      const notOurs = await client.json("PATCH", `/api/sessions/shop-1/messages/${theirs}`, {
        text: "x",
      });
      assert.equal(notOurs.status, 409);
      assert.equal(
        (await client.request("DELETE", "/api/sessions/shop-1/messages/NOSUCHID")).status,
        404,
      );
    }),
);

Deno.test(
  "mark read sends read receipts and clears the unread count; typing and recording reach the contact",
  e2e,
  () =>
    withWorld(async ({ fake, client, stream }) => {
      const { id } = await fake.deliverText({ from: CONTACT, to: ACCOUNT, text: "are you there?" });
      await waitForEvent(stream, "message.received", (d) => d.message.id === id);
      const chats = async () =>
        (await client.json<{ items: { unreadCount: number }[] }>(
          "GET",
          "/api/sessions/shop-1/chats",
        ))
          .body.items[0].unreadCount;
      assert.equal(await chats(), 1);
      const marked = await client.json<{ marked: number }>(
        "POST",
        `/api/sessions/shop-1/chats/${CONTACT_JID}/read`,
        {},
      );
      assert.equal(marked.status, 200, JSON.stringify(marked.body));
      assert.equal(marked.body.marked, 1);
      assert.equal(await chats(), 0);
      const waitStanza = async (
        match: (s: ReturnType<FakeWhatsApp["fromCompanions"]>[number]) => boolean,
      ) => {
        const deadline = Date.now() + 10_000;
        while (!fake.fromCompanions().some(match)) {
          if (Date.now() > deadline) throw new Error(JSON.stringify(fake.fromCompanions()));
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      };
      await waitStanza((s) =>
        s.tag === "receipt" && s.kind.startsWith("read") && s.ids.includes(id)
      );

      for (
        const [state, kind] of [["typing", "composing"], ["recording", "recording"], [
          "paused",
          "paused",
        ]]
      ) {
        const response = await client.request(
          "POST",
          `/api/sessions/shop-1/chats/${CONTACT_JID}/presence`,
          {
            state,
          },
        );
        assert.equal(response.status, 204);
        await waitStanza((s) => s.tag === "chatstate" && s.kind === kind && s.to === CONTACT_JID);
      }

      // The contact's own read receipt for a message of ours lands in the store.
      const ours = await sendText(client, "yes");
      await fake.waitForReceived((m) => m.id === ours);
      await fake.sendReceipt({ from: CONTACT, to: ACCOUNT, ids: [ours], type: "read" });
      const deadline = Date.now() + 10_000;
      while ((await stored(client, ours)).status !== "read") {
        if (Date.now() > deadline) throw new Error("status never became read");
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }),
);
