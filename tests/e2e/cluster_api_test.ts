/**
 * The API of a cluster is the same on every node: the live stream of any node carries every
 * session's events, and an edit made on one node reaches the node that runs the session (its
 * webhooks change there).
 */
import { strict as assert } from "node:assert";
import { spread, TestCluster } from "../support/cluster.ts";
import { linkSession } from "../support/fake_gateway.ts";
import { startFakeWhatsApp } from "../support/fake_whatsapp/server.ts";
import { postgresTest } from "../support/postgres_test.ts";
import { openEventStream } from "../support/sse_client.ts";
import { withTempDir } from "../support/temp_dir.ts";
import { startWebhookReceiver } from "../support/webhook_receiver.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const CONTACT = "15550009999";
const SECRET = "cluster-session-webhook-0123456789";

postgresTest(
  "every node's event stream shows every session; an edit on one node reaches the session's node",
  (pg) =>
    withTempDir(async (root) => {
      const fake = await startFakeWhatsApp();
      fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
      const receiver = startWebhookReceiver({ secret: SECRET });
      const cluster = await TestCluster.start({ fake, pg, root, nodes: ["a", "b"] });
      try {
        const ids = ["e-1", "e-2", "e-3", "e-4"];
        for (const [i, id] of ids.entries()) {
          await linkSession(cluster.node("a").client, fake, id, `155560000${i}`);
        }
        const linked = await cluster.waitForConnected(ids, { timeoutMs: 60_000 });
        const onB = linked.find((s) => s.node === "b");
        const onA = linked.find((s) => s.node === "a");
        assert.ok(onA && onB, JSON.stringify(spread(linked)));

        // The stream of node a, for a session that node b runs.
        const a = cluster.node("a");
        const stream = await openEventStream(
          `${a.url}/api/events?session=${onB.id}&types=message.received`,
          { "x-api-key": a.gateway.apiKey! },
        );
        try {
          await fake.deliverText({ from: CONTACT, to: onB.phoneNumber!, text: "seen on a" });
          const seen = await stream.waitFor(
            (messages) => messages.some((m) => m.data?.data?.message?.text === "seen on a"),
            20_000,
          );
          assert.ok(seen.every((m) => m.data.sessionId === onB.id));
        } finally {
          await stream.close();
        }

        // A webhook added through node a, on the session node b runs: b delivers with it.
        const patched = await a.client.json("PATCH", `/api/sessions/${onB.id}`, {
          webhooks: [{ url: receiver.url, secret: SECRET, events: ["message.received"] }],
        });
        assert.equal(patched.status, 200, JSON.stringify(patched.body));
        const deadline = Date.now() + 20_000;
        let n = 0;
        while (Date.now() < deadline) {
          await fake.deliverText({ from: CONTACT, to: onB.phoneNumber!, text: `hook ${n++}` });
          if (receiver.accepted().length > 0) break;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
        const delivered = receiver.accepted();
        assert.ok(delivered.length > 0, "the session's node took in the new webhook");
        assert.ok(delivered.every((d) => d.validSignature && d.event.sessionId === onB.id));

        // Reads come from the store on any node, with the node that runs each session.
        const viaB = await cluster.node("b").client.json<{ node: string; webhooks: unknown[] }>(
          "GET",
          `/api/sessions/${onB.id}`,
        );
        assert.equal(viaB.body.node, "b");
        assert.equal(viaB.body.webhooks.length, 1);
        const forwarded = await a.client.request("GET", `/api/sessions/${onB.id}/chats`);
        assert.equal(forwarded.headers.get("x-wa-node"), "b", "socket routes answered by b");
        await forwarded.body?.cancel();
      } finally {
        await cluster.dispose();
        await receiver.close();
        await fake.close();
      }
    }),
  e2e,
);
