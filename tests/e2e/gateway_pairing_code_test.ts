/**
 * Linking with a pairing code instead of a QR scan, through the gateway (a child process) and the
 * fake WhatsApp server's simulated phone.
 */
import { strict as assert } from "node:assert";
import { startFakeGateway, withFakeServer } from "../support/fake_gateway.ts";
import { stopGracefully } from "../support/gateway_process.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const PHONE = "15550001111";

Deno.test(
  "a session links with a pairing code typed on the phone; bad requests get 4xx",
  e2e,
  async () => {
    await withFakeServer(async (fake, dataDir) => {
      let { gateway, client } = await startFakeGateway(fake, dataDir);
      try {
        const unknown = await client.json("POST", "/api/sessions/nope/pairing-code", {
          phoneNumber: PHONE,
        });
        assert.equal(unknown.status, 404);

        await client.createSession("shop-1");
        await client.waitForQr("shop-1");
        for (const body of [{}, { phoneNumber: "call me" }, { phoneNumber: PHONE, x: 1 }]) {
          const bad = await client.json<{ error: { code: string } }>(
            "POST",
            "/api/sessions/shop-1/pairing-code",
            body,
          );
          assert.equal(bad.status, 400, JSON.stringify(body));
          assert.equal(bad.body.error.code, "invalid_input");
        }

        const issued = await client.json<{ code: string; phoneNumber: string }>(
          "POST",
          "/api/sessions/shop-1/pairing-code",
          { phoneNumber: `+${PHONE}` },
        );
        assert.equal(issued.status, 200, JSON.stringify(issued.body));
        assert.match(issued.body.code, /^[A-Z0-9]{8}$/);
        assert.equal(issued.body.phoneNumber, PHONE);

        await fake.pairWithCode(issued.body.code, { phoneNumber: PHONE, pushName: "Shop" });
        const linked = await client.waitForStatus("shop-1", "connected");
        assert.equal(linked.phoneNumber, PHONE);

        const again = await client.json<{ error: { code: string } }>(
          "POST",
          "/api/sessions/shop-1/pairing-code",
          { phoneNumber: PHONE },
        );
        assert.equal(again.status, 409);
        assert.equal(again.body.error.code, "qr_not_available");

        // Linked for good: a restart logs in again with no code and no QR.
        await stopGracefully(gateway);
        ({ gateway, client } = await startFakeGateway(fake, dataDir));
        await client.waitForStatus("shop-1", "connected");
      } finally {
        await gateway.dispose();
      }
    });
  },
);

Deno.test(
  "a pairing code never typed in does not survive a crash: the session asks to be linked again",
  e2e,
  async () => {
    await withFakeServer(async (fake, dataDir) => {
      let { gateway, client } = await startFakeGateway(fake, dataDir);
      try {
        await client.createSession("shop-1");
        await client.waitForQr("shop-1");
        const issued = await client.json("POST", "/api/sessions/shop-1/pairing-code", {
          phoneNumber: PHONE,
        });
        assert.equal(issued.status, 200);
        gateway.kill("SIGKILL");
        await gateway.exited;

        // The half-begun link (`creds.me` without an account) must not make Baileys try to log
        // in, which WhatsApp would refuse and the gateway would take for a logout.
        ({ gateway, client } = await startFakeGateway(fake, dataDir));
        const qr = await client.waitForQr("shop-1");
        await fake.pairWithQr(qr, { phoneNumber: PHONE });
        await client.waitForStatus("shop-1", "connected");
      } finally {
        await gateway.dispose();
      }
    });
  },
);
