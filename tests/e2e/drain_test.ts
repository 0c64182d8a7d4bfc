/**
 * SIGTERM while a linked session is busy: texts still arriving (each one decrypted, its keys
 * written, its event queued for a webhook) when the signal comes. The drain must leave the auth
 * writes in the plain files (no journal), every event the gateway published in the outbox, and
 * the session able to go on after a restart.
 */
import { strict as assert } from "node:assert";
import { startFakeGateway } from "../support/fake_gateway.ts";
import { withLinkedGateway } from "../support/linked_gateway.ts";
import { openEventStream } from "../support/sse_client.ts";
import { filesBelow } from "../support/temp_dir.ts";
import { patientWebhookEnv, startWebhookReceiver } from "../support/webhook_receiver.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const ACCOUNT = "15550001111";
const CONTACT = "15550009999";
const SECRET = "drain-test-secret-0123456789";

/** The event ids the outbox holds for delivery, read from its log on disk. */
async function queuedEventIds(dataDir: string): Promise<Set<string>> {
  const log = await Deno.readTextFile(`${dataDir}/.webhook-outbox/pending.jsonl`);
  assert.ok(log === "" || log.endsWith("\n"), "the outbox log ends with a whole line");
  const live = new Map<string, string>();
  for (const line of log.split("\n").filter(Boolean)) {
    const record = JSON.parse(line);
    if (record.op === "add") live.set(record.entry.id, record.entry.eventId);
    else if (record.op === "done") live.delete(record.id);
  }
  return new Set(live.values());
}

Deno.test(
  "SIGTERM while texts arrive drains everything: no journal left, every event in the outbox, the session intact",
  e2e,
  async () => {
    const receiver = startWebhookReceiver({ secret: SECRET });
    await receiver.stop(); // every event stays queued: the outbox must hold them all
    const env = patientWebhookEnv(receiver, SECRET, "message.received");
    try {
      await withLinkedGateway("shop-1", ACCOUNT, async ({ fake, gateway, dataDir }) => {
        fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
        const stream = await openEventStream(
          `${gateway.url}/api/events?types=message.received`,
          { "x-api-key": gateway.apiKey! },
        );
        for (let i = 0; i < 5; i++) {
          await fake.deliverText({ from: CONTACT, to: ACCOUNT, text: `before ${i}` });
        }
        await stream.waitFor((events) => events.length >= 1);
        // More texts while the drain runs: they are decrypted, written and queued meanwhile,
        // until the connection closes (then the fake has no device to deliver to).
        const during = (async () => {
          for (let i = 0; i < 20; i++) {
            await fake.deliverText({ from: CONTACT, to: ACCOUNT, text: `during ${i}` })
              .catch(() => {});
          }
        })();
        gateway.kill("SIGTERM");
        await during;
        assert.equal((await gateway.exited).code, 0, "drained");
        await stream.ended;

        const paths = [...(await filesBelow(dataDir)).keys()];
        assert.deepEqual(paths.filter((p) => /(^|\/)(\.journal|\.tmp-|\.trash-)/.test(p)), []);
        for (const path of paths.filter((p) => p.startsWith("shop-1/"))) {
          JSON.parse(await Deno.readTextFile(`${dataDir}/${path}`)); // whole, plain files
        }
        const streamed = stream.messages.map((message) => message.data.id as string);
        assert.ok(streamed.length >= 1);
        const queued = await queuedEventIds(dataDir);
        for (const id of streamed) assert.ok(queued.has(id), `event ${id} is not in the outbox`);

        // After a restart the session logs in with what the drain left (no QR), every queued
        // event goes out, and a new text is decrypted.
        receiver.start();
        const second = await startFakeGateway(fake, dataDir, env);
        try {
          await second.client.waitForStatus("shop-1", "connected", 20_000);
          const statuses = second.gateway.logs
            .filter((line) => line.msg === "session status changed")
            .map((line) => line.status);
          assert.ok(!statuses.includes("qr"), `no QR needed: ${statuses}`);
          await receiver.waitFor((all) =>
            [...queued].every((id) => all.some((d) => d.event.id === id))
          );
          await fake.deliverText({ from: CONTACT, to: ACCOUNT, text: "after the restart" });
          await receiver.waitFor((all) =>
            all.some((d) => d.event.data.message?.text === "after the restart")
          );
        } finally {
          await second.gateway.dispose();
        }
      }, { env });
    } finally {
      await receiver.close();
    }
  },
);
