/**
 * Issue 5's proof against the fake WhatsApp server: the gateway, as a real child process, sends
 * messages over REST that a simulated contact decrypts, and reports the contact's texts and
 * receipts through a signed webhook (a real receiver on loopback) and the SSE stream.
 */
import { strict as assert } from "node:assert";
import type { FakeWhatsApp } from "../support/fake_whatsapp/server.ts";
import type { GatewayClient } from "../support/gateway_client.ts";
import { startFakeGateway } from "../support/fake_gateway.ts";
import type { GatewayProcess } from "../support/gateway_process.ts";
import { withLinkedGateway } from "../support/linked_gateway.ts";
import { type EventStream, openEventStream } from "../support/sse_client.ts";
import { filesBelow } from "../support/temp_dir.ts";
import {
  patientWebhookEnv,
  startWebhookReceiver,
  type WebhookReceiver,
} from "../support/webhook_receiver.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const SECRET = "e2e-webhook-secret-0123456789";
const ACCOUNT = "15550001111";
const CONTACT = "15550009999";
const CONTACT_JID = `${CONTACT}@s.whatsapp.net`;

interface World {
  fake: FakeWhatsApp;
  gateway: GatewayProcess;
  client: GatewayClient;
  receiver: WebhookReceiver;
  stream: EventStream;
}

/**
 * A fake server with a contact, a webhook receiver, and a gateway whose session `shop-1` is
 * linked as ACCOUNT; an event stream of that session is open.
 */
async function withMessagingWorld(
  fn: (world: World) => Promise<void>,
  env: Record<string, string> = {},
): Promise<void> {
  const receiver = startWebhookReceiver({ secret: SECRET });
  try {
    await withLinkedGateway("shop-1", ACCOUNT, async ({ fake, gateway, client }) => {
      fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
      const stream = await openEventStream(
        `${gateway.url}/api/events?session=shop-1&types=message.received,message.sent,message.status`,
        { "x-api-key": gateway.apiKey! },
      );
      try {
        await fn({ fake, gateway, client, receiver, stream });
      } finally {
        await stream.close();
      }
    }, {
      pushName: "Shop",
      env: {
        WEBHOOK_URL: receiver.url,
        WEBHOOK_SECRET: SECRET,
        WEBHOOK_EVENTS: "message.received,message.sent,message.status",
        WEBHOOK_RETRY_INITIAL_DELAY_MS: "50",
        WEBHOOK_RETRY_MAX_DELAY_MS: "500",
        ...env,
      },
    });
  } finally {
    await receiver.close();
  }
}

Deno.test(
  "a text sent over REST is decrypted by the contact; its read receipt becomes a status event",
  e2e,
  () =>
    withMessagingWorld(async ({ fake, client, receiver, stream }) => {
      const text = "Your order #1042 has shipped 📦 — «ünïcödé» ok";
      const { status, body } = await client.json<Record<string, string>>(
        "POST",
        "/api/sessions/shop-1/messages",
        { type: "text", to: `+${CONTACT}`, text },
      );
      assert.equal(status, 201, JSON.stringify(body));
      assert.equal(body.to, CONTACT_JID);
      assert.equal(body.status, "sent", "the server acknowledged it");
      assert.match(body.id, /^[0-9A-F]{10,}$/);

      const received = await fake.waitForReceived((m) => m.id === body.id);
      assert.equal(received.text, text, "the contact decrypted the exact text");
      assert.equal(received.from, ACCOUNT);
      assert.equal(received.to, CONTACT);

      const statusEvents = (events: { type: string; data: Record<string, unknown> }[]) =>
        events
          .filter((e) => e.type === "message.status" && e.data.messageId === body.id)
          .map((e) => [e.data.previousStatus, e.data.status]);
      const expected = [["sent", "delivered"], ["delivered", "read"]];
      const hookStatuses = () => statusEvents(receiver.accepted().map((d) => d.event));
      // One receipt at a time: receipts arriving together may be reported as the latest only.
      await fake.sendReceipt({ from: CONTACT, to: ACCOUNT, ids: [body.id], type: "delivery" });
      await receiver.waitFor(() => hookStatuses().length === 1);
      await fake.sendReceipt({ from: CONTACT, to: ACCOUNT, ids: [body.id], type: "read" });
      const hooks = await receiver.waitFor(() => hookStatuses().length === 2);
      assert.deepEqual(statusEvents(hooks.map((d) => d.event)), expected);
      assert.ok(hooks.every((d) => d.validSignature));
      const sentEvent = hooks.find((d) => d.event.type === "message.sent")!;
      assert.equal(sentEvent.event.data.message.id, body.id);
      assert.equal(sentEvent.event.data.content.text, text);

      const streamed = await stream.waitFor((m) => statusEvents(m.map((x) => x.data)).length === 2);
      assert.deepEqual(statusEvents(streamed.map((m) => m.data)), expected);
    }),
);

Deno.test(
  "a text from a contact reaches the webhook with a valid signature, and the event stream",
  e2e,
  () =>
    withMessagingWorld(async ({ fake, receiver, stream }) => {
      const { id } = await fake.deliverText({ from: CONTACT, to: ACCOUNT, text: "hello gateway" });
      const [delivery] = await receiver.waitFor((all) =>
        all.some((d) => d.event.type === "message.received")
      );
      assert.equal(delivery.validSignature, true);
      assert.equal(delivery.headers["x-webhook-event"], "message.received");
      assert.equal(delivery.event.sessionId, "shop-1");
      const message = delivery.event.data.message;
      assert.equal(message.id, id);
      assert.equal(message.type, "text");
      assert.equal(message.text, "hello gateway");
      assert.equal(message.fromPhoneNumber, CONTACT);
      assert.equal(message.pushName, "Bob");

      const [streamed] = await stream.waitFor((m) => m.length >= 1);
      assert.equal(streamed.event, "message.received");
      assert.equal(streamed.id, delivery.event.id);
      assert.deepEqual(streamed.data, delivery.event);
    }),
);

Deno.test(
  "a reply, a location and a reaction reach the contact",
  e2e,
  () =>
    withMessagingWorld(async ({ fake, client }) => {
      const { id: incoming } = await fake.deliverText({ from: CONTACT, to: ACCOUNT, text: "hi?" });
      const bodies = [
        { type: "text", to: CONTACT, text: "Hi Bob!", quotedMessageId: incoming },
        { type: "location", to: CONTACT_JID, latitude: 52.52, longitude: 13.405, name: "Shop" },
        { type: "reaction", to: CONTACT, messageId: incoming, emoji: "👍" },
      ];
      for (const body of bodies) {
        const sent = await client.json<{ id: string; status: string }>(
          "POST",
          "/api/sessions/shop-1/messages",
          body,
        );
        assert.equal(sent.status, 201, JSON.stringify(sent.body));
        assert.equal(sent.body.status, "sent");
        // The fake records texts; for the others, that the contact decrypted a message.
        const received = await fake.waitForReceived((m) => m.id === sent.body.id);
        if (body.type === "text") assert.equal(received.text, "Hi Bob!");
      }
    }),
);

Deno.test(
  "bad sends: unknown session 404, disconnected session 409, bad recipient 400, big body 413",
  e2e,
  () =>
    withMessagingWorld(async ({ fake, client }) => {
      const text = { type: "text", to: CONTACT, text: "x" };
      const unknown = await client.json<{ error: { code: string } }>(
        "POST",
        "/api/sessions/nope/messages",
        text,
      );
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error.code, "session_not_found");

      await client.createSession("idle"); // waits at its QR code, never linked
      await client.waitForQr("idle");
      const idle = await client.json<{ error: { code: string } }>(
        "POST",
        "/api/sessions/idle/messages",
        text,
      );
      assert.equal(idle.status, 409);
      assert.equal(idle.body.error.code, "session_not_connected");

      for (const to of ["hello", "+1 555", "200000000000002@lid", "1203@g.us", "1".repeat(20)]) {
        const bad = await client.json<{ error: { code: string } }>(
          "POST",
          "/api/sessions/shop-1/messages",
          { ...text, to },
        );
        assert.equal(bad.status, 400, to);
        assert.equal(bad.body.error.code, "invalid_input");
      }

      const big = await client.json<{ error: { code: string } }>(
        "POST",
        "/api/sessions/shop-1/messages",
        { ...text, text: "x".repeat(8 * 1024) },
      );
      assert.equal(big.status, 413);
      assert.equal(big.body.error.code, "payload_too_large");
      assert.equal(fake.receivedMessages().length, 0, "nothing was sent");
    }, { MAX_BODY_BYTES: "4096" }),
);

Deno.test(
  "check-numbers asks WhatsApp which numbers have an account; bad numbers get 400",
  e2e,
  () =>
    withMessagingWorld(async ({ client }) => {
      const checked = await client.json<{
        results: { phoneNumber: string; exists: boolean; jid: string | null }[];
      }>("POST", "/api/sessions/shop-1/check-numbers", {
        phoneNumbers: [`+${CONTACT}`, "15550004444", ACCOUNT],
      });
      assert.equal(checked.status, 200, JSON.stringify(checked.body));
      assert.deepEqual(checked.body.results, [
        { phoneNumber: CONTACT, exists: true, jid: CONTACT_JID },
        { phoneNumber: "15550004444", exists: false, jid: null },
        { phoneNumber: ACCOUNT, exists: true, jid: `${ACCOUNT}@s.whatsapp.net` },
      ]);

      for (const body of [{ phoneNumbers: [] }, { phoneNumbers: ["hello"] }, {}]) {
        const bad = await client.json<{ error: { code: string } }>(
          "POST",
          "/api/sessions/shop-1/check-numbers",
          body,
        );
        assert.equal(bad.status, 400, JSON.stringify(body));
        assert.equal(bad.body.error.code, "invalid_input");
      }
    }),
);

Deno.test(
  "several sessions sending to one contact at once: every text is encrypted, sent and decrypted",
  e2e,
  () =>
    withMessagingWorld(async ({ fake, client }) => {
      // Baileys' key transactions live in AsyncLocalStorage while libsignal queues work per
      // remote address for the whole process: without the gateway's per-recipient send lock,
      // sessions sending to the same contact at once corrupt each other's Signal state.
      const sessions = ["shop-1", "shop-2", "shop-3", "shop-4", "shop-5"];
      for (const [i, id] of sessions.slice(1).entries()) {
        await client.createSession(id);
        await fake.pairWithQr(await client.waitForQr(id), { phoneNumber: `1555000200${i}` });
        await client.waitForStatus(id, "connected");
      }
      const sent = await Promise.all(sessions.flatMap((id) =>
        Array.from({ length: 6 }, async (_, worker) => {
          const ids: string[] = [];
          for (let n = 0; n < 4; n++) {
            const res = await client.json<{ id: string }>("POST", `/api/sessions/${id}/messages`, {
              type: "text",
              to: CONTACT,
              text: `${id} ${worker} ${n}`,
            });
            assert.equal(res.status, 201, `${id}: ${JSON.stringify(res.body)}`);
            ids.push(res.body.id);
          }
          return ids;
        })
      ));
      const ids = new Set(sent.flat());
      assert.equal(ids.size, 120);
      for (const id of ids) {
        await fake.waitForReceived((m) =>
          m.id === id
        );
      }
    }),
);

Deno.test(
  "texts from a contact while the receiver is down and the gateway is SIGKILLed: all delivered after, in order, once",
  e2e,
  async () => {
    const receiver = startWebhookReceiver({ secret: SECRET });
    await receiver.stop(); // connections refused until the second gateway runs
    const env = patientWebhookEnv(receiver, SECRET, "message.received");
    try {
      await withLinkedGateway("shop-1", ACCOUNT, async ({ fake, gateway, dataDir }) => {
        fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
        const ids: string[] = [];
        for (let n = 0; n < 5; n++) {
          ids.push((await fake.deliverText({ from: CONTACT, to: ACCOUNT, text: `#${n}` })).id);
        }
        // Every event is in the outbox (durable) and has failed at least once.
        await gateway.waitForLog((line) => line.msg === "webhook delivery failed; will retry");
        const deadline = Date.now() + 15_000;
        while ((await outboxMessageOrder(dataDir)).length < ids.length) {
          assert.ok(Date.now() < deadline, "the texts never reached the outbox");
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        gateway.kill("SIGKILL");
        await gateway.exited;
        // The order the gateway observed them in (Baileys finishes decrypting a burst of texts
        // in an order of its own): the order every delivery must keep.
        const queued = await outboxMessageOrder(dataDir);
        assert.deepEqual([...queued].sort(), [...ids].sort());

        receiver.start();
        const { gateway: second } = await startFakeGateway(fake, dataDir, env);
        try {
          const accepted = await receiver.waitFor((all) =>
            ids.every((id) => all.some((d) => d.event.data.message.id === id))
          );
          const delivered = accepted.map((d) => d.event.data.message.id as string);
          assert.deepEqual(delivered.filter((id) => ids.includes(id)), queued, "in order, once");
          assert.ok(accepted.every((d) => d.validSignature));
        } finally {
          await second.dispose();
        }
      }, { env });
    } finally {
      await receiver.close();
    }
  },
);

Deno.test(
  "with an encryption key, a text waiting for the receiver is never on disk in clear, and arrives intact",
  e2e,
  async () => {
    const receiver = startWebhookReceiver({ secret: SECRET });
    await receiver.stop();
    const text = "the vault code is 4711";
    const env = {
      ...patientWebhookEnv(receiver, SECRET, "message.received"),
      SESSIONS_ENCRYPTION_KEY: btoa(String.fromCharCode(...new Uint8Array(32).fill(42))),
    };
    try {
      await withLinkedGateway("shop-1", ACCOUNT, async ({ fake, gateway, dataDir }) => {
        fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
        const { id } = await fake.deliverText({ from: CONTACT, to: ACCOUNT, text });
        await gateway.waitForLog((line) => line.msg === "webhook delivery failed; will retry");
        gateway.kill("SIGKILL");
        await gateway.exited;
        for (const [path, bytes] of await filesBelow(dataDir)) {
          const content = new TextDecoder("latin1").decode(bytes);
          assert.ok(!content.includes(text), `${path} holds the text in clear`);
        }

        receiver.start();
        const { gateway: second } = await startFakeGateway(fake, dataDir, env);
        try {
          const [delivery] = await receiver.waitFor((all) =>
            all.some((d) => d.event.data.message.id === id)
          );
          assert.equal(delivery.event.data.message.text, text);
          assert.ok(delivery.validSignature);
        } finally {
          await second.dispose();
        }
      }, { env });
    } finally {
      await receiver.close();
    }
  },
);

/** The message ids of the `message.received` deliveries in the outbox's pending log, in order. */
async function outboxMessageOrder(dataDir: string): Promise<string[]> {
  const log = await Deno.readTextFile(`${dataDir}/.webhook-outbox/pending.jsonl`).catch(() => "");
  return log.split("\n").filter((line) => line.startsWith('{"op":"add"')).map((line) => {
    const body = JSON.parse(JSON.parse(line).entry.body);
    return body.data.message.id as string;
  });
}
