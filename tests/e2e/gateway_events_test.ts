/**
 * The live event stream against the fake WhatsApp server: incoming texts and receipts of sent
 * messages show up on `GET /api/events`, filtered; an open stream does not hold up a SIGTERM drain.
 */
import { strict as assert } from "node:assert";
import { withLinkedGateway } from "../support/linked_gateway.ts";
import { SseReader } from "../support/sse_reader.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "incoming texts and read receipts stream as events; SIGTERM still drains",
  e2e,
  async () => {
    await withLinkedGateway("shop-1", "15550001111", async ({ fake, gateway, client }) => {
      fake.addContact({ phoneNumber: "15550009999", pushName: "Bob" });

      const bad = await client.request("GET", "/api/events?types=message.received,nonsense");
      assert.equal(bad.status, 400);
      await bad.body?.cancel();

      const res = await client.request(
        "GET",
        "/api/events?session=shop-1&types=message.received,message.status",
      );
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
      const stream = new SseReader(res);

      await fake.deliverText({
        from: "15550009999",
        to: "15550001111",
        text: "is it in stock?",
      });
      const received = JSON.parse(
        (await stream.waitFor((e) => e.event === "message.received")).data,
      );
      assert.equal(received.sessionId, "shop-1");
      assert.equal(received.message.text, "is it in stock?");
      assert.equal(received.message.pushName, "Bob");

      const sent = await client.json<{ id: string }>("POST", "/api/sessions/shop-1/messages", {
        to: "15550009999",
        type: "text",
        text: "yes",
      });
      await fake.waitForReceived((m) => m.id === sent.body.id);
      await fake.sendReceipt({
        from: "15550009999",
        to: "15550001111",
        ids: [sent.body.id],
        type: "read",
      });
      const read = await stream.waitFor((e) =>
        e.event === "message.status" && JSON.parse(e.data).message.status === "read"
      );
      assert.equal(JSON.parse(read.data).message.id, sent.body.id);
      assert.ok(
        stream.events.every((e) => e.event.startsWith("message.")),
        "the type filter holds",
      );

      gateway.kill("SIGTERM");
      assert.equal((await gateway.exited).code, 0);
      await stream.done;
    });
  },
);
