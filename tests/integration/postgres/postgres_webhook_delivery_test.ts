/** Webhook deliveries from several nodes on one database: once each, in order, after a death. */
import assert from "node:assert/strict";
import type { NewOutboxEntry } from "../../../src/domain/webhook_outbox.ts";
import { PostgresWebhookOutbox } from "../../../src/persistence/postgres/postgres_webhook_outbox.ts";
import { WebhookDeliverer } from "../../../src/webhooks/webhook_deliverer.ts";
import { testLogger } from "../../support/logger.ts";
import { withMigratedDatabase } from "../../support/postgres_fixtures.ts";
import { postgresTest } from "../../support/postgres_test.ts";
import { type ReceivedDelivery, startWebhookReceiver } from "../../support/webhook_receiver.ts";

const SECRET = "receiver-secret-0123456789";
const CLAIM_TTL = 1_500;

function entry(url: string, n: number, sessionId: string): NewOutboxEntry {
  return {
    id: `dlv_${n}`,
    eventId: `evt_${n}`,
    eventType: "message.received",
    sessionId,
    endpoint: { scope: "global", url, secret: SECRET },
    body: JSON.stringify({
      id: `evt_${n}`,
      type: "message.received",
      sessionId,
      at: "",
      data: { n },
    }),
    createdAt: new Date(0).toISOString(),
  };
}

function deliverer(outbox: PostgresWebhookOutbox) {
  return new WebhookDeliverer({
    outbox,
    logger: testLogger(),
    timeoutMs: 2_000,
    maxAttempts: 1_000,
    backoff: { initialDelayMs: 20, maxDelayMs: 100 },
    claimTtlMs: CLAIM_TTL,
    claimIntervalMs: 50,
  });
}

/** Each delivery's `n`, by session, in arrival order. */
function arrivals(received: ReceivedDelivery[]) {
  const bySession = new Map<string, number[]>();
  for (const { event } of received) {
    bySession.set(event.sessionId, [...(bySession.get(event.sessionId) ?? []), event.data.n]);
  }
  return bySession;
}

postgresTest(
  "deliveries queued on two nodes are made once each, in order per session",
  async (pg) => {
    await withMigratedDatabase(pg, async (clients) => {
      const receiver = startWebhookReceiver({ secret: SECRET });
      const nodes = ["node-a", "node-b"].map((nodeId) =>
        new PostgresWebhookOutbox({ sql: clients.open(), nodeId, logger: testLogger() })
      );
      for (const outbox of nodes) await outbox.open();
      const deliverers = nodes.map(deliverer);
      try {
        await Promise.all(deliverers.map((d) => d.start()));
        for (let n = 0; n < 60; n++) {
          const node = n % 2;
          const added = await nodes[node].append([entry(receiver.url, n, `s${n % 6}`)]);
          deliverers[node].enqueue(added);
        }
        await receiver.waitFor((accepted) => accepted.length >= 60, 30_000);
        await new Promise((resolve) => setTimeout(resolve, 300)); // room for a duplicate to show
        const accepted = receiver.accepted();
        assert.equal(accepted.length, 60, "no delivery twice");
        assert.ok(accepted.every((delivery) => delivery.validSignature));
        for (const [session, ns] of arrivals(accepted)) {
          assert.deepEqual(ns, [...ns].sort((a, b) => a - b), `${session} in order`);
        }
      } finally {
        await Promise.all(deliverers.map((d) => d.stop(100)));
        for (const outbox of nodes) await outbox.close();
        await receiver.close();
      }
    });
  },
);

postgresTest(
  "the queues of a node that died are delivered by another once its claims lapse",
  async (pg) => {
    await withMigratedDatabase(pg, async (clients) => {
      const receiver = startWebhookReceiver({ secret: SECRET });
      const a = new PostgresWebhookOutbox({
        sql: clients.open(),
        nodeId: "node-a",
        logger: testLogger(),
      });
      const b = new PostgresWebhookOutbox({
        sql: clients.open(),
        nodeId: "node-b",
        logger: testLogger(),
      });
      await a.open();
      await b.open();
      const first = deliverer(a);
      const second = deliverer(b);
      try {
        receiver.respondWith(503); // node-a keeps retrying the head of each queue
        await first.start();
        for (let n = 0; n < 20; n++) {
          first.enqueue(await a.append([entry(receiver.url, n, `s${n % 4}`)]));
        }
        await receiver.waitFor(() => receiver.received.length >= 4, 10_000);
        // node-a dies: it stops, and never releases its claims.
        await first.stop(0);
        receiver.respondWith(200);
        const died = Date.now();
        await second.start();
        await receiver.waitFor((accepted) => accepted.length >= 20, 30_000);
        assert.ok(Date.now() - died >= CLAIM_TTL - 200, "not before node-a's claims lapsed");
        const ns = receiver.accepted().map((delivery) => delivery.event.data.n).sort((x, y) =>
          x - y
        );
        assert.deepEqual(ns, Array.from({ length: 20 }, (_, n) => n), "every entry, once");
        for (const [session, order] of arrivals(receiver.accepted())) {
          assert.deepEqual(order, [...order].sort((x, y) => x - y), `${session} in order`);
        }
        // The last removals may still be committing.
        const until = Date.now() + 5_000;
        while ((await b.claim(CLAIM_TTL)).length > 0 && Date.now() < until) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.deepEqual(await b.claim(CLAIM_TTL), [], "nothing left pending");
      } finally {
        await first.stop(0);
        await second.stop(100);
        await a.close();
        await b.close();
        await receiver.close();
      }
    });
  },
);
