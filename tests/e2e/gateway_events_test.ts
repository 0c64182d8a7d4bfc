/**
 * The live event stream on a real gateway process: filters hold, and an open stream does not
 * hold up a SIGTERM drain.
 */
import { strict as assert } from "node:assert";
import { withLinkedGateway } from "../support/linked_gateway.ts";
import { openEventStream } from "../support/sse_client.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "an incoming text streams as an event, filtered by type; SIGTERM still drains",
  e2e,
  async () => {
    await withLinkedGateway("shop-1", "15550001111", async ({ fake, gateway, client }) => {
      fake.addContact({ phoneNumber: "15550009999", pushName: "Bob" });

      const bad = await client.request("GET", "/api/events?types=message.received,nonsense");
      assert.equal(bad.status, 400);
      await bad.body?.cancel();

      const stream = await openEventStream(
        `${gateway.url}/api/events?session=shop-1&types=message.received`,
        { "x-api-key": gateway.apiKey! },
      );
      await fake.deliverText({ from: "15550009999", to: "15550001111", text: "is it in stock?" });
      const [received] = await stream.waitFor((events) => events.length > 0);
      assert.equal(received.event, "message.received");
      assert.equal(received.data.sessionId, "shop-1");
      assert.equal(received.data.data.message.text, "is it in stock?");
      assert.equal(received.data.data.message.pushName, "Bob");

      // A sent message makes `message.sent`, which this stream's filter leaves out.
      const sent = await client.json<{ id: string }>("POST", "/api/sessions/shop-1/messages", {
        to: "15550009999",
        type: "text",
        text: "yes",
      });
      await fake.waitForReceived((m) => m.id === sent.body.id);

      gateway.kill("SIGTERM");
      assert.equal((await gateway.exited).code, 0);
      await stream.ended;
      assert.deepEqual(stream.messages.map((m) => m.event), ["message.received"]);
    });
  },
);
