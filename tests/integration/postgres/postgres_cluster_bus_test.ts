/**
 * What nodes tell each other through PostgreSQL: cluster signals (NOTIFY) and the live stream's
 * events (a table plus NOTIFY), between real clients on a real server, across a server restart.
 */
import assert from "node:assert/strict";
import type { GatewayEvent } from "../../../src/domain/events.ts";
import type { SessionId } from "../../../src/domain/session_id.ts";
import type { ClusterSignal } from "../../../src/ownership/cluster_signals.ts";
import { PostgresClusterSignals } from "../../../src/persistence/postgres/postgres_cluster_signals.ts";
import { PostgresEventRelay } from "../../../src/persistence/postgres/postgres_event_relay.ts";
import { withMigratedDatabase } from "../../support/postgres_fixtures.ts";
import { postgresTest } from "../../support/postgres_test.ts";
import { testLogger } from "../../support/logger.ts";
import { waitUntil } from "../../support/waiters.ts";

function event(n: number, text = `text ${n}`): GatewayEvent {
  return {
    id: `evt_${n}`,
    type: "message.received",
    sessionId: "shop-1" as SessionId,
    at: new Date().toISOString(),
    message: {
      id: `m${n}`,
      from: "15550009999",
      chat: "15550009999@s.whatsapp.net",
      text,
      type: "text",
      timestamp: new Date().toISOString(),
    },
  } as unknown as GatewayEvent;
}

postgresTest(
  "signals sent by one node reach the others, checked on arrival",
  (pg) =>
    withMigratedDatabase(pg, async (clients) => {
      const a = new PostgresClusterSignals({
        sql: clients.open(),
        databaseUrl: pg.url,
        logger: testLogger(),
      });
      const b = new PostgresClusterSignals({
        sql: clients.open(),
        databaseUrl: pg.url,
        logger: testLogger(),
      });
      const received: ClusterSignal[] = [];
      let resyncs = 0;
      await b.start((signal) => received.push(signal), () => resyncs++);
      await a.start(() => {}, () => {});
      try {
        assert.equal(resyncs, 1, "a resync when it starts listening");
        a.send({ kind: "placement" });
        a.send({ kind: "spec", sessionId: "shop-1" as SessionId });
        await clients.open(1)`SELECT pg_notify('wa_cluster', '{"kind":"spec","sessionId":"../x"}')`;
        await waitUntil(() => received.length >= 2);
        await new Promise((resolve) => setTimeout(resolve, 100));
        // Two sends may leave on two pooled connections: hints, in no promised order.
        const byKind = (x: ClusterSignal, y: ClusterSignal) => x.kind.localeCompare(y.kind);
        assert.deepEqual(received.toSorted(byKind), [
          { kind: "placement" },
          { kind: "spec", sessionId: "shop-1" },
        ]);
      } finally {
        await a.close();
        await b.close();
      }
    }),
);

postgresTest(
  "the live stream's events go to every other node, once each, in order",
  (pg) =>
    withMigratedDatabase(pg, async (clients) => {
      const nodes = ["a", "b", "c"].map((node) =>
        new PostgresEventRelay({
          sql: clients.open(),
          databaseUrl: pg.url,
          node,
          logger: testLogger(),
        })
      );
      const seen = nodes.map(() => [] as string[]);
      await Promise.all(nodes.map((relay, i) => relay.start((e) => seen[i].push(e.id))));
      try {
        for (let n = 0; n < 50; n++) nodes[n % 2].send(event(n, "x".repeat(n === 7 ? 20_000 : 5)));
        await waitUntil(() =>
          seen[2].length === 50 && seen[0].length === 25 && seen[1].length === 25
        );
        await new Promise((resolve) => setTimeout(resolve, 200));
        const fromA = Array.from({ length: 25 }, (_, i) => `evt_${i * 2}`);
        const fromB = Array.from({ length: 25 }, (_, i) => `evt_${i * 2 + 1}`);
        assert.deepEqual(seen[0], fromB, "a gets b's, none of its own");
        assert.deepEqual(seen[1], fromA);
        assert.deepEqual(seen[2].filter((id) => fromA.includes(id)), fromA, "in each node's order");
        assert.equal(new Set(seen[2]).size, 50, "none twice");
      } finally {
        await Promise.all(nodes.map((relay) => relay.close()));
      }
    }),
);

postgresTest(
  "after a server restart, listeners come back and events written meanwhile still arrive",
  (pg) =>
    withMigratedDatabase(pg, async (clients) => {
      const sender = new PostgresEventRelay({
        sql: clients.open(),
        databaseUrl: pg.url,
        node: "a",
        logger: testLogger(),
      });
      const receiver = new PostgresEventRelay({
        sql: clients.open(),
        databaseUrl: pg.url,
        node: "b",
        logger: testLogger(),
      });
      const signals = new PostgresClusterSignals({
        sql: clients.open(),
        databaseUrl: pg.url,
        logger: testLogger(),
      });
      const seen: string[] = [];
      let resyncs = 0;
      await sender.start(() => {});
      await receiver.start((e) => seen.push(e.id));
      await signals.start(() => {}, () => resyncs++);
      try {
        sender.send(event(1));
        await waitUntil(() => seen.length === 1);
        await pg.restart();
        await waitUntil(() => resyncs >= 2, 20_000);
        sender.send(event(2));
        await waitUntil(() => seen.length === 2, 20_000);
        assert.deepEqual(seen, ["evt_1", "evt_2"]);
      } finally {
        await sender.close();
        await receiver.close();
        await signals.close();
      }
    }),
  { ownServer: true },
);
