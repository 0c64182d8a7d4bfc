/**
 * The gateway on a real disk that fills up (a tmpfs), with a linked session and a contact
 * writing to it: writes answer 507 with a clear message, `/ready` answers 503, the episode is
 * one error line when it starts and one when it ends, `wa_storage_*` shows it; the session stays
 * linked, reports the problem, and once space is back the message that arrived meanwhile is
 * delivered, sends work, and a restart logs in again without a QR code.
 */
import { strict as assert } from "node:assert";
import { linkSession, startFakeGateway } from "../support/fake_gateway.ts";
import { startFakeWhatsApp } from "../support/fake_whatsapp/server.ts";
import { stopGracefully } from "../support/gateway_process.ts";
import { parseExposition, sampleValue } from "../support/prometheus_text.ts";
import { tmpfsRequirement, withSmallDisk } from "../support/small_disk.ts";
import { openEventStream } from "../support/sse_client.ts";
import { testsRequiring } from "../support/test_requirements.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const ACCOUNT = "15550001111";
const CONTACT = "15550009999";
const FULL = "data directory disk full: writes fail until space is freed; retrying by itself";
const SPACE_AGAIN = "data directory disk has space again: writes succeed";

const tmpfsTest = await testsRequiring(tmpfsRequirement);

/** Waits until the session folder's journal is checkpointed away (idle for a second). */
async function journalGone(folder: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (await Deno.stat(`${folder}/.journal`).then(() => true, () => false)) {
    assert.ok(Date.now() < deadline, "the auth journal was never checkpointed");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

tmpfsTest(
  "a full disk: 507 and /ready 503, one error line each way, a metric; the session stays linked and catches up",
  e2e,
  () =>
    withSmallDisk(32 * 1024, async (disk) => {
      const dataDir = `${disk.dir}/data`;
      const fake = await startFakeWhatsApp();
      try {
        fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
        let { gateway, client } = await startFakeGateway(fake, dataDir);
        try {
          await linkSession(client, fake, "shop-1", ACCOUNT);
          const stream = await openEventStream(
            `${gateway.url}/api/events?session=shop-1&types=message.received`,
            { "x-api-key": gateway.apiKey! },
          );
          try {
            // Filled once the folder is checkpointed: a journal removed later would free space.
            await journalGone(`${dataDir}/shop-1`);
            await disk.fill();

            const created = await client.json<{ error: { code: string; message: string } }>(
              "POST",
              "/api/sessions",
              { id: "shop-2" },
            );
            assert.equal(created.status, 507);
            assert.equal(created.body.error.code, "insufficient_storage");
            assert.match(created.body.error.message, /disk holding the data directory is full/);
            await gateway.waitForLog((line) => line.msg === FULL);

            const ready = await client.json<{ ready: boolean; storageWritable: boolean }>(
              "GET",
              "/ready",
            );
            assert.equal(ready.status, 503);
            assert.equal(ready.body.storageWritable, false);
            const sent = await client.json<{ error: { code: string } }>(
              "POST",
              "/api/sessions/shop-1/messages",
              { type: "text", to: `+${CONTACT}`, text: "not while full" },
            );
            assert.equal(sent.status, 507);
            assert.equal(sent.body.error.code, "insufficient_storage");
            const metrics = parseExposition(await (await gateway.fetch("/metrics")).text());
            assert.equal(sampleValue(metrics, "wa_storage_writable"), 0);
            assert.equal(sampleValue(metrics, "wa_storage_full_total"), 1);

            // The contact writes meanwhile: its keys cannot be stored, so the message waits.
            await fake.deliverText({ from: CONTACT, to: ACCOUNT, text: "hello while full" });
            const session = await client.session("shop-1");
            assert.equal(session?.status, "connected");
            assert.equal(session?.storageProblem?.code, "insufficient_storage");
            assert.equal((await client.json("GET", "/api/sessions")).status, 200);

            await disk.free();
            await gateway.waitForLog((line) => line.msg === SPACE_AGAIN, 30_000);
            assert.equal((await client.json("GET", "/ready")).status, 200);
            const received = await stream.waitFor(
              (messages) =>
                messages.some((m) => m.data?.data?.message?.text === "hello while full"),
              30_000,
            );
            assert.ok(received.length > 0);
            // The refused create changed nothing, then or now.
            assert.equal((await client.json("GET", "/api/sessions/shop-2")).status, 404);
            const after = await client.session("shop-1");
            assert.equal(after?.storageProblem, null);
            const ok = await client.json("POST", "/api/sessions/shop-1/messages", {
              type: "text",
              to: `+${CONTACT}`,
              text: "space again",
            });
            assert.equal(ok.status, 201, JSON.stringify(ok.body));
            await fake.waitForReceived((m) => m.text === "space again");
          } finally {
            await stream.close();
          }
          // The gateway's own error lines (Baileys logs the 515 restart after pairing as one).
          const errors = gateway.logs.filter((line) =>
            Number(line.level) >= 50 && line.component !== "baileys"
          );
          assert.deepEqual(errors.map((line) => line.msg), [FULL, SPACE_AGAIN]);

          // Nothing was lost: after a restart the session logs in with what is on disk.
          await stopGracefully(gateway);
          ({ gateway, client } = await startFakeGateway(fake, dataDir));
          await client.waitForStatus("shop-1", "connected");
          assert.equal((await client.json("GET", "/api/sessions/shop-1/qr")).status, 409);
          assert.equal((await client.json("GET", "/api/sessions/shop-2")).status, 404);
        } finally {
          await gateway.dispose();
        }
      } finally {
        await fake.close();
      }
    }),
);
