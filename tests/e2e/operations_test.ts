/**
 * Issue 7's operator promises, end to end against the fake WhatsApp server: a linked session
 * moves to a new data directory through backup and restore and reconnects there without a QR,
 * and /metrics shows what happened.
 */
import { strict as assert } from "node:assert";
import { runTask } from "../support/backup_tasks.ts";
import { linkSession, startFakeGateway, withFakeServer } from "../support/fake_gateway.ts";
import { stopGracefully } from "../support/gateway_process.ts";
import { parseExposition, sampleValue } from "../support/prometheus_text.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "a linked session is backed up while connected, restored elsewhere, and reconnects without a QR",
  e2e,
  async () => {
    await withFakeServer(async (fake, root) => {
      const first = await startFakeGateway(fake, `${root}/old-host`);
      try {
        await linkSession(first.client, fake, "shop-1", "15550001111");
        const backup = await runTask("backup", [`${root}/shop.tar`], {
          SESSIONS_DATA_PATH: `${root}/old-host`,
        });
        assert.equal(backup.code, 0, backup.stderr);
        // The old host stops before the new one starts: one device, one connection.
        await stopGracefully(first.gateway);
      } finally {
        await first.gateway.dispose();
      }

      const restore = await runTask("restore", [`${root}/shop.tar`, `${root}/new-host`]);
      assert.equal(restore.code, 0, restore.stderr);

      const second = await startFakeGateway(fake, `${root}/new-host`);
      try {
        const session = await second.client.waitForStatus("shop-1", "connected", 20_000);
        assert.equal(session.phoneNumber, "15550001111");
        const statuses = second.gateway.logs
          .filter((line) => line.msg === "session status changed" && line.sessionId === "shop-1")
          .map((line) => line.status);
        assert.ok(!statuses.includes("qr"), `no QR needed: ${statuses}`);
        const listening = second.gateway.logs.find((line) => line.msg === "gateway listening");
        assert.equal(listening?.sessionsRestored, 1);
        assert.equal(listening?.dataDir, `${root}/new-host`);
        assert.equal(listening?.apiKeySource, "API_KEY");
        assert.ok(!JSON.stringify(listening).includes(second.gateway.apiKey!), "never the key");
      } finally {
        await second.gateway.dispose();
      }
    });
  },
);

Deno.test(
  "/metrics counts a dropped connection, a sent message and the connected session",
  e2e,
  async () => {
    await withFakeServer(async (fake, dataDir) => {
      const { gateway, client } = await startFakeGateway(fake, dataDir);
      try {
        await linkSession(client, fake, "shop-1", "15550001111");
        await fake.dropConnection("15550001111");
        await gateway.waitForLog((line) =>
          line.msg === "session status changed" && line.status === "reconnecting"
        );
        await client.waitForStatus("shop-1", "connected");
        fake.addContact({ phoneNumber: "15550009999", pushName: "Bob" });
        const sent = await client.json<{ id: string }>("POST", "/api/sessions/shop-1/messages", {
          to: "15550009999",
          type: "text",
          text: "counted",
        });
        assert.equal(sent.status, 201, JSON.stringify(sent.body));
        await fake.waitForReceived((m) => m.id === sent.body.id);
        const response = await fetch(`${gateway.url}/metrics`);
        assert.equal(response.status, 200);
        const metrics = parseExposition(await response.text());
        assert.equal(sampleValue(metrics, "wa_session_reconnects_total"), 1);
        assert.equal(sampleValue(metrics, "wa_sessions", { status: "connected" }), 1);
        assert.equal(sampleValue(metrics, "wa_messages_sent_total"), 1);
        const authWrites = sampleValue(metrics, "wa_persistence_write_seconds_count", {
          kind: "auth",
        });
        assert.ok(authWrites !== undefined && authWrites > 0, "linking wrote auth files");
      } finally {
        await gateway.dispose();
      }
    });
  },
);
