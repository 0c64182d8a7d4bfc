/**
 * Scale-out end to end, what the shared parts do when they fail: PostgreSQL restarting under
 * running nodes, and webhook deliveries pending when the node making them dies.
 */
import { strict as assert } from "node:assert";
import { spread, TestCluster } from "../support/cluster.ts";
import { linkSession } from "../support/fake_gateway.ts";
import { TestClients } from "../support/postgres_fixtures.ts";
import { startFakeWhatsApp } from "../support/fake_whatsapp/server.ts";
import { postgresTest } from "../support/postgres_test.ts";
import { withTempDir } from "../support/temp_dir.ts";
import { startWebhookReceiver } from "../support/webhook_receiver.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const CONTACT = "15550009999";
const SECRET = "cluster-webhook-secret-0123456789";

postgresTest(
  "PostgreSQL restarted under two nodes: sessions stay or come back, and every acknowledged send arrives",
  (pg) =>
    withTempDir(async (root) => {
      const fake = await startFakeWhatsApp();
      fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
      const cluster = await TestCluster.start({ fake, pg, root, nodes: ["a", "b"] });
      try {
        const ids = ["p-1", "p-2", "p-3", "p-4"];
        for (const [i, id] of ids.entries()) {
          await linkSession(cluster.node("a").client, fake, id, `155530000${i}`);
        }
        await cluster.waitForConnected(ids, { timeoutMs: 60_000 });
        const acknowledged: string[] = [];
        const send = async (id: string, text: string) => {
          for (const via of ["a", "b"]) {
            const sent = await cluster.node(via).client.json(
              "POST",
              `/api/sessions/${id}/messages`,
              { type: "text", to: `+${CONTACT}`, text },
            ).catch(() => ({ status: 0 }));
            if (sent.status === 201) {
              acknowledged.push(text);
              return;
            }
          }
        };
        await Promise.all(ids.map((id) => send(id, `before ${id}`)));

        // Sends go on while the database restarts; whatever is acknowledged must arrive.
        let sending = true;
        const during = (async () => {
          for (let n = 0; sending; n++) {
            await send(ids[n % ids.length], `during ${n}`);
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        })();
        await pg.restart();
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        sending = false;
        await during;

        const back = await cluster.waitForConnected(ids, { timeoutMs: 60_000 });
        assert.equal(back.length, 4, JSON.stringify(spread(back)));
        assert.equal(fake.devices().length, 4, "no session needed a new QR");
        await Promise.all(ids.map((id) => send(id, `after ${id}`)));
        for (const text of acknowledged) await fake.waitForReceived((m) => m.text === text);
        assert.ok(acknowledged.includes("after p-1") && acknowledged.includes("before p-4"));
        const overlaps = fake.connectionOverlaps();
        assert.deepEqual(overlaps, [], `two live sockets: ${JSON.stringify(overlaps)}`);
      } finally {
        await cluster.dispose();
        await fake.close();
      }
    }),
  { ...e2e, ownServer: true },
);

postgresTest(
  "webhook events pending when their node dies are delivered once each, by another node",
  (pg) =>
    withTempDir(async (root) => {
      const fake = await startFakeWhatsApp();
      fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
      const receiver = startWebhookReceiver({ secret: SECRET });
      receiver.respondWith(503); // down: everything stays pending
      const cluster = await TestCluster.start({
        fake,
        pg,
        root,
        nodes: ["a", "b"],
        env: {
          WEBHOOK_URL: receiver.url,
          WEBHOOK_SECRET: SECRET,
          WEBHOOK_EVENTS: "message.received",
          WEBHOOK_RETRY_INITIAL_DELAY_MS: "200",
          WEBHOOK_RETRY_MAX_DELAY_MS: "500",
          WEBHOOK_MAX_ATTEMPTS: "1000",
        },
      });
      try {
        const ids = ["w-1", "w-2", "w-3", "w-4"];
        for (const [i, id] of ids.entries()) {
          await linkSession(cluster.node("a").client, fake, id, `155540000${i}`);
        }
        const linked = await cluster.waitForConnected(ids, { timeoutMs: 60_000 });
        const onB = linked.filter((s) => s.node === "b");
        assert.ok(onB.length >= 1, JSON.stringify(spread(linked)));
        const texts: string[] = [];
        for (const session of linked) {
          for (let n = 0; n < 3; n++) {
            const text = `to ${session.id} #${n}`;
            await fake.deliverText({ from: CONTACT, to: session.phoneNumber!, text });
            texts.push(text);
          }
        }
        const attempted = () => new Set(receiver.received.map((d) => d.event.data.message?.text));
        // Each session's queue is held up by its first event (answered 503), the rest wait behind.
        // Which text is first is Baileys' decryption order, not necessarily #0 (see below).
        const prefixes = linked.map((session) => `to ${session.id} #`);
        const headsAttempted = () =>
          prefixes.every((prefix) => [...attempted()].some((text) => text?.startsWith(prefix)));
        await receiver.waitFor(headsAttempted, 30_000)
          .catch((error) => {
            throw new Error(`${error.message.slice(0, 100)}; attempted: ${[...attempted()]}`);
          });

        // Every event is in the outbox before b dies: a text b's session took but had not made
        // durable yet is not what this test is about (the single-node SIGKILL test waits alike).
        // The order each session's events were queued in (Baileys finishes decrypting a burst of
        // texts in an order of its own) is the order every delivery must keep.
        const queued = new Map<string, string[]>();
        const db = new TestClients(pg.url);
        try {
          const deadline = Date.now() + 15_000;
          for (;;) {
            const rows = await db.open(1)<{ entry: { sessionId: string; body: string } }[]>`
              SELECT entry FROM webhook_outbox ORDER BY seq`;
            if (rows.length >= texts.length) {
              for (const { entry } of rows) {
                const list = queued.get(entry.sessionId) ?? [];
                list.push(JSON.parse(entry.body).data.message.text);
                queued.set(entry.sessionId, list);
              }
              break;
            }
            assert.ok(Date.now() < deadline, `only ${rows.length} of ${texts.length} queued`);
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        } finally {
          await db.close();
        }

        // b dies with its deliveries pending (and maybe one in flight); a takes its queues.
        await cluster.kill("b");
        receiver.respondWith(200);
        const accepted = await receiver.waitFor(
          (deliveries) =>
            texts.every((text) => deliveries.some((d) => d.event.data.message?.text === text)),
          60_000,
        );
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        const ids2 = receiver.accepted().map((d) => d.event.id);
        assert.equal(new Set(ids2).size, ids2.length, "each event accepted once");
        assert.equal(accepted.length >= texts.length, true);
        assert.ok(receiver.accepted().every((d) => d.validSignature));
        // In order per session: each session's texts arrive once each, as they were queued.
        for (const session of linked) {
          const order = receiver.accepted()
            .filter((d) => d.event.sessionId === session.id)
            .map((d) => d.event.data.message?.text);
          const expected = [0, 1, 2].map((n) => `to ${session.id} #${n}`);
          assert.deepEqual([...(queued.get(session.id) ?? [])].sort(), expected, session.id);
          assert.deepEqual(order, queued.get(session.id), session.id);
        }
      } finally {
        await cluster.dispose();
        await receiver.close();
        await fake.close();
      }
    }),
  e2e,
);
