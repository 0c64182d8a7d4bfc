/**
 * Sending over REST, against the fake WhatsApp server: a simulated contact decrypts exactly what
 * the gateway sent, and bad requests get their 4xx.
 */
import { strict as assert } from "node:assert";
import { withLinkedGateway } from "../support/linked_gateway.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "texts and locations sent over REST reach the contact; bad requests get 4xx",
  e2e,
  async () => {
    await withLinkedGateway("shop-1", "15550001111", async ({ fake, client }) => {
      await client.createSession("idle");
      await client.json("POST", "/api/sessions/idle/stop");
      fake.addContact({ phoneNumber: "15550009999", pushName: "Bob" });

      const sent = await client.json<{ id: string; to: string; status: string }>(
        "POST",
        "/api/sessions/shop-1/messages",
        { to: "+1 555 000 9999", type: "text", text: "Your order shipped 📦" },
      );
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      assert.equal(sent.body.to, "15550009999@s.whatsapp.net");
      const got = await fake.waitForReceived((m) => m.id === sent.body.id);
      assert.deepEqual([got.from, got.to, got.text], [
        "15550001111",
        "15550009999",
        "Your order shipped 📦",
      ]);

      const location = await client.json("POST", "/api/sessions/shop-1/messages", {
        to: "15550009999@s.whatsapp.net",
        type: "location",
        latitude: 52.52,
        longitude: 13.405,
      });
      assert.equal(location.status, 201, JSON.stringify(location.body));

      const bad: [string, unknown, number, string][] = [
        [
          "/api/sessions/nope/messages",
          { to: "15550009999", type: "text", text: "x" },
          404,
          "session_not_found",
        ],
        [
          "/api/sessions/idle/messages",
          { to: "15550009999", type: "text", text: "x" },
          409,
          "session_not_connected",
        ],
        [
          "/api/sessions/shop-1/messages",
          { to: "not a number", type: "text", text: "x" },
          400,
          "invalid_input",
        ],
        [
          "/api/sessions/shop-1/messages",
          { to: "15550009999", type: "text", text: "" },
          400,
          "invalid_input",
        ],
        [
          "/api/sessions/shop-1/messages",
          { to: "15550009999", type: "sticker" },
          400,
          "invalid_input",
        ],
        [
          "/api/sessions/shop-1/messages",
          { to: "15550009999", type: "location", latitude: 91, longitude: 0 },
          400,
          "invalid_input",
        ],
        [
          "/api/sessions/shop-1/messages",
          { to: "15550009999", type: "text", text: "x".repeat(2_000_000) },
          413,
          "payload_too_large",
        ],
      ];
      for (const [path, body, status, code] of bad) {
        const res = await client.json<{ error: { code: string } }>("POST", path, body);
        assert.equal(res.status, status, `${path} ${JSON.stringify(body).slice(0, 80)}`);
        assert.equal(res.body.error.code, code);
      }
      assert.equal(fake.receivedMessages().length, 2, "rejected requests sent nothing");
    });
  },
);
