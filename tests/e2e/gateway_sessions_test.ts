/**
 * Issue 4's proof: the gateway, as a real `deno run` child process, links sessions through the
 * fake WhatsApp server and keeps them linked across SIGKILL, SIGTERM, dropped connections and
 * corrupted metadata; removal and deletion clean up exactly what they should.
 */
import { strict as assert } from "node:assert";
import { linkSession, startFakeGateway, withFakeServer } from "../support/fake_gateway.ts";
import type { SessionView } from "../support/gateway_client.ts";
import { type GatewayProcess, stopGracefully } from "../support/gateway_process.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Polls a condition on disk (no event tells it); the timeout is a safety net for loaded machines. */
async function waitUntil(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const statusLines = (gateway: GatewayProcess, id: string) =>
  gateway.logs.filter((line) => line.msg === "session status changed" && line.sessionId === id)
    .map((line) => line.status);

Deno.test(
  "a session links over REST: QR, phone scan, connected with its phone number",
  e2e,
  () =>
    withFakeServer(async (fake, dataDir) => {
      const { gateway, client } = await startFakeGateway(fake, dataDir);
      try {
        const linked = await linkSession(client, fake, "shop-1", "15550001111");
        assert.equal(linked.phoneNumber, "15550001111");
        assert.equal(linked.pushName, "Phone shop-1");
        assert.ok(linked.connectedAt);
        const qr = await client.request("GET", "/api/sessions/shop-1/qr");
        assert.equal(qr.status, 409, "no QR once linked");
        await qr.body?.cancel();
        // The record is saved just after the status changes in memory.
        const saved = async () =>
          JSON.parse(await Deno.readTextFile(`${dataDir}/sessions-metadata.json`))["shop-1"];
        await waitUntil(async () => (await saved()).status === "connected", "status saved");
        assert.equal((await saved()).phoneNumber, "15550001111");
        assert.ok(await exists(`${dataDir}/shop-1/creds.json`));
      } finally {
        await gateway.dispose();
      }
    }),
);

Deno.test(
  "after SIGKILL a restarted gateway reconnects the session without a QR",
  e2e,
  () =>
    withFakeServer(async (fake, dataDir) => {
      const first = await startFakeGateway(fake, dataDir);
      let before: SessionView;
      try {
        before = await linkSession(first.client, fake, "shop-1", "15550001111");
      } finally {
        first.gateway.kill("SIGKILL");
        await first.gateway.exited;
      }

      const second = await startFakeGateway(fake, dataDir);
      try {
        const after = await second.client.waitForStatus("shop-1", "connected");
        assert.equal(after.phoneNumber, before.phoneNumber);
        assert.equal(after.name, before.name);
        assert.equal(after.createdAt, before.createdAt);
        assert.ok(!statusLines(second.gateway, "shop-1").includes("qr"), "no QR after restart");
        assert.equal(fake.devices().filter((d) => d.phoneNumber === "15550001111").length, 1);
      } finally {
        await second.gateway.dispose();
      }
    }),
);

Deno.test(
  "SIGTERM exits 0 without logging out, and the session comes back after restart",
  e2e,
  () =>
    withFakeServer(async (fake, dataDir) => {
      const first = await startFakeGateway(fake, dataDir);
      try {
        await linkSession(first.client, fake, "shop-1", "15550001111");
        first.gateway.kill("SIGTERM");
        assert.equal((await first.gateway.exited).code, 0);
      } finally {
        await first.gateway.dispose();
      }
      const device = fake.devices().find((d) => d.phoneNumber === "15550001111");
      assert.ok(device, "the device is still linked on the server");
      assert.equal(device.removed ?? false, false);

      const second = await startFakeGateway(fake, dataDir);
      try {
        const after = await second.client.waitForStatus("shop-1", "connected");
        assert.equal(after.phoneNumber, "15550001111");
        assert.ok(!statusLines(second.gateway, "shop-1").includes("qr"));
      } finally {
        await second.gateway.dispose();
      }
    }),
);

Deno.test(
  "removing the device on the phone logs the session out and deletes only its auth",
  e2e,
  () =>
    withFakeServer(async (fake, dataDir) => {
      const { gateway, client } = await startFakeGateway(fake, dataDir);
      try {
        await linkSession(client, fake, "removed", "15550001111");
        await linkSession(client, fake, "kept", "15550002222");
        const keptFiles = await Array.fromAsync(Deno.readDir(`${dataDir}/kept`));

        await fake.removeDevice("15550001111");
        const session = await client.waitForStatus("removed", "logged_out");
        assert.equal(session.lastDisconnect?.code, 401);
        // The folder goes once Baileys' last key writes have landed, just after the status.
        await waitUntil(async () => !(await exists(`${dataDir}/removed`)), "auth folder deleted");
        const saved = async () =>
          JSON.parse(await Deno.readTextFile(`${dataDir}/sessions-metadata.json`))["removed"];
        await waitUntil(async () => (await saved())?.status === "logged_out", "metadata kept");

        assert.equal((await client.session("kept"))?.status, "connected");
        const keptNow = await Array.fromAsync(Deno.readDir(`${dataDir}/kept`));
        assert.ok(keptNow.length >= keptFiles.length, "the other session's auth is untouched");
      } finally {
        await gateway.dispose();
      }
    }),
);

Deno.test(
  "a dropped connection is reconnected by itself",
  e2e,
  () =>
    withFakeServer(async (fake, dataDir) => {
      const { gateway, client } = await startFakeGateway(fake, dataDir);
      try {
        await linkSession(client, fake, "shop-1", "15550001111");
        await fake.dropConnection("15550001111");
        await gateway.waitForLog((line) =>
          line.msg === "session status changed" && line.sessionId === "shop-1" &&
          line.status === "reconnecting"
        );
        const session = await client.waitForStatus("shop-1", "connected");
        assert.equal(session.phoneNumber, "15550001111");
        const metrics = await (await client.request("GET", "/metrics")).text();
        assert.match(metrics, /^wa_session_reconnects_total [1-9]/m);
      } finally {
        await gateway.dispose();
      }
    }),
);

Deno.test(
  "DELETE of a linked session logs it out and it stays gone after restart",
  e2e,
  () =>
    withFakeServer(async (fake, dataDir) => {
      const first = await startFakeGateway(fake, dataDir);
      try {
        await linkSession(first.client, fake, "shop-1", "15550001111");
        const res = await first.client.request("DELETE", "/api/sessions/shop-1");
        assert.equal(res.status, 204);
        await res.body?.cancel();
        const device = fake.devices().find((d) => d.phoneNumber === "15550001111");
        assert.ok(!device || device.removed, "logged out on the server");
        assert.equal(await exists(`${dataDir}/shop-1`), false);
        const metadata = JSON.parse(await Deno.readTextFile(`${dataDir}/sessions-metadata.json`));
        assert.equal(metadata["shop-1"], undefined);
        await stopGracefully(first.gateway);
      } finally {
        await first.gateway.dispose();
      }
      const second = await startFakeGateway(fake, dataDir);
      try {
        assert.equal(await second.client.session("shop-1"), null);
      } finally {
        await second.gateway.dispose();
      }
    }),
);

Deno.test(
  "corrupted metadata: sessions are rebuilt from auth folders and reconnect",
  e2e,
  () =>
    withFakeServer(async (fake, dataDir) => {
      const first = await startFakeGateway(fake, dataDir);
      try {
        await linkSession(first.client, fake, "alpha", "15550001111");
        await linkSession(first.client, fake, "beta", "15550002222");
        await stopGracefully(first.gateway);
      } finally {
        await first.gateway.dispose();
      }
      await Deno.writeTextFile(`${dataDir}/sessions-metadata.json`, '{"alpha": {"id": "al');

      const second = await startFakeGateway(fake, dataDir);
      try {
        for (const [id, phone] of [["alpha", "15550001111"], ["beta", "15550002222"]]) {
          const session = await second.client.waitForStatus(id, "connected");
          assert.equal(session.phoneNumber, phone);
        }
        const names = (await Array.fromAsync(Deno.readDir(dataDir))).map((e) => e.name);
        assert.ok(names.some((n) => n.startsWith("sessions-metadata.json.corrupt-")));
      } finally {
        await second.gateway.dispose();
      }
    }),
);

Deno.test(
  "twenty linked sessions all reconnect after a restart",
  e2e,
  () =>
    withFakeServer(async (fake, dataDir) => {
      const ids = Array.from({ length: 20 }, (_, i) => `s-${String(i).padStart(2, "0")}`);
      const phoneOf = (i: number) => `1555100${String(i).padStart(4, "0")}`;
      const first = await startFakeGateway(fake, dataDir);
      try {
        await Promise.all(ids.map((id, i) => linkSession(first.client, fake, id, phoneOf(i))));
        first.gateway.kill("SIGKILL");
        await first.gateway.exited;
      } finally {
        await first.gateway.dispose();
      }
      const second = await startFakeGateway(fake, dataDir);
      try {
        const sessions = await Promise.all(
          ids.map((id) => second.client.waitForStatus(id, "connected", 30_000)),
        );
        assert.deepEqual(sessions.map((s) => s.phoneNumber), ids.map((_, i) => phoneOf(i)));
        const ready = await second.client.request("GET", "/ready");
        assert.equal(ready.status, 200);
        await ready.body?.cancel();
      } finally {
        await second.gateway.dispose();
      }
    }),
);
