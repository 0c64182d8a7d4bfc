/**
 * `Idempotency-Key` on sends, through the gateway as a child process against the fake WhatsApp
 * server: replays, 422 and 409, and a SIGKILL before and after WhatsApp's ack.
 */
import { strict as assert } from "node:assert";
import type { FakeWhatsApp } from "../support/fake_whatsapp/server.ts";
import { linkSession, startFakeGateway, withFakeServer } from "../support/fake_gateway.ts";
import type { GatewayProcess } from "../support/gateway_process.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const ACCOUNT = "15550001111";
const CONTACT = "15550009999";

function send(gateway: GatewayProcess, key: string, text: string): Promise<Response> {
  return gateway.fetch("/api/sessions/shop-1/messages", {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": `"${key}"` },
    body: JSON.stringify({ type: "text", to: CONTACT, text }),
  });
}

interface Answer {
  status: number;
  body: { id: string; error: { code: string } };
}

async function json(response: Promise<Response>): Promise<Answer> {
  const answered = await response;
  return { status: answered.status, body: await answered.json() };
}

/** Copies of `text` the contact's phone shows. */
const shown = (fake: FakeWhatsApp, text: string) =>
  fake.receivedMessages({ to: CONTACT }).filter((m) => m.text === text);

async function withLinked(
  fn: (world: { fake: FakeWhatsApp; dataDir: string; gateway: GatewayProcess }) => Promise<void>,
) {
  await withFakeServer(async (fake, dataDir) => {
    const { gateway, client } = await startFakeGateway(fake, dataDir);
    try {
      await linkSession(client, fake, "shop-1", ACCOUNT);
      fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
      await fn({ fake, dataDir, gateway });
    } finally {
      fake.setAckHooks({});
      await gateway.dispose();
    }
  });
}

Deno.test(
  "the same key and body answer the first response and send once; another body is 422; in flight is 409",
  e2e,
  () =>
    withLinked(async ({ fake, gateway }) => {
      const first = await json(send(gateway, "order-1", "one"));
      assert.equal(first.status, 201, JSON.stringify(first.body));
      const again = await json(send(gateway, "order-1", "one"));
      assert.equal(again.status, 201);
      assert.deepEqual(again.body, first.body, "the first response, replayed");
      await fake.waitForReceived((m) => m.id === first.body.id);

      const other = await json(send(gateway, "order-1", "two"));
      assert.equal(other.status, 422);
      assert.equal(other.body.error.code, "idempotency_key_reused");

      const release = Promise.withResolvers<void>();
      fake.setAckHooks({ before: () => release.promise });
      const slow = json(send(gateway, "order-2", "slow"));
      await fake.waitForReceived((m) => m.text === "slow");
      const during = await json(send(gateway, "order-2", "slow"));
      assert.equal(during.status, 409);
      assert.equal(during.body.error.code, "idempotency_key_in_flight");
      release.resolve();
      assert.equal((await slow).status, 201);
      assert.equal(shown(fake, "one").length, 1);
      assert.equal(shown(fake, "slow").length, 1);

      const bad = await gateway.fetch("/api/sessions/shop-1/messages", {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": "has space" },
        body: JSON.stringify({ type: "text", to: CONTACT, text: "x" }),
      });
      assert.equal(bad.status, 400);
      await bad.body?.cancel();
    }),
);

for (const moment of ["before", "after"] as const) {
  Deno.test(
    `a send killed (SIGKILL) ${moment} WhatsApp's ack is retried after the restart: one message, the same id`,
    e2e,
    () =>
      withFakeServer(async (fake, dataDir) => {
        let { gateway, client } = await startFakeGateway(fake, dataDir);
        const held = Promise.withResolvers<void>();
        try {
          await linkSession(client, fake, "shop-1", ACCOUNT);
          fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
          const killed = gateway;
          fake.setAckHooks(
            moment === "before"
              ? { before: () => held.promise }
              : { after: () => killed.kill("SIGKILL") },
          );
          const attempt = send(gateway, "order-9", "exactly once").catch((error) => error);
          const received = await fake.waitForReceived((m) => m.text === "exactly once");
          if (moment === "before") gateway.kill("SIGKILL");
          await gateway.exited;
          assert.ok((await attempt) instanceof Error, "the first request got no answer");
          fake.setAckHooks({});
          held.resolve();

          ({ gateway, client } = await startFakeGateway(fake, dataDir));
          await client.waitForStatus("shop-1", "connected");
          const retried = await json(send(gateway, "order-9", "exactly once"));
          assert.equal(retried.status, 201, JSON.stringify(retried.body));
          assert.equal(retried.body.id, received.id, "the id the contact got");
          const replayed = await json(send(gateway, "order-9", "exactly once"));
          assert.deepEqual(replayed.body, retried.body);
          await new Promise((resolve) => setTimeout(resolve, 300));
          assert.equal(shown(fake, "exactly once").length, 1, "the phone shows it once");
        } finally {
          fake.setAckHooks({});
          held.resolve();
          await gateway.dispose();
        }
      }),
  );
}
