/**
 * Scale-out end to end: real gateway processes on one real PostgreSQL, the real Baileys client in
 * each, against the fake WhatsApp server. Sessions are linked through one node and spread over
 * all; when a node dies, its sessions connect again on the others from the stored credentials,
 * without a QR code, and every node's API keeps working for every session.
 */
import { strict as assert } from "node:assert";
import { type ClusteredSession, spread, TestCluster } from "../support/cluster.ts";
import { startFakeWhatsApp } from "../support/fake_whatsapp/server.ts";
import { postgresTest } from "../support/postgres_test.ts";
import { withTempDir } from "../support/temp_dir.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const CONTACT = "15550009999";

const phoneOf = (i: number) => `1555200${String(i).padStart(4, "0")}`;
const idOf = (i: number) => `s-${String(i).padStart(2, "0")}`;

/** Links `ids` through `via`'s API (the QR codes come from whichever node runs each session). */
async function linkAll(cluster: TestCluster, via: string, ids: string[], fake: {
  pairWithQr(qr: string, phone: { phoneNumber: string }): Promise<unknown>;
}) {
  const { client } = cluster.node(via);
  // A few at a time: every link is a login on a 2-core machine.
  for (let start = 0; start < ids.length; start += 6) {
    await Promise.all(
      ids.slice(start, start + 6).map(async (id) => {
        await client.createSession(id, `Session ${id}`);
        const qr = await client.waitForQr(id, 30_000);
        await fake.pairWithQr(qr, { phoneNumber: phoneOf(Number(id.slice(2))) });
      }),
    );
  }
}

postgresTest(
  "three nodes: 30 sessions linked through one spread over all; after kill -9 of one, its sessions connect on the others without a QR, every node's API sends for every session, and the node back gets its share",
  (pg) =>
    withTempDir(async (root) => {
      const fake = await startFakeWhatsApp();
      fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
      const cluster = await TestCluster.start({ fake, pg, root, nodes: ["a", "b", "c"] });
      try {
        const ids = Array.from({ length: 30 }, (_, i) => idOf(i));
        await linkAll(cluster, "a", ids, fake);
        const linked = await cluster.waitForConnected(ids, { timeoutMs: 120_000 });
        const counts = spread(linked);
        assert.deepEqual(Object.keys(counts).sort(), ["a", "b", "c"], JSON.stringify(counts));
        for (const node of ["a", "b", "c"]) {
          assert.ok(counts[node] >= 7 && counts[node] <= 13, JSON.stringify(counts));
        }
        const nodes = await cluster.node("c").client.json<
          { nodes: { id: string; alive: boolean; sessions: number; self: boolean }[] }
        >("GET", "/api/cluster/nodes");
        assert.equal(nodes.status, 200);
        assert.deepEqual(
          nodes.body.nodes.map((n) => [n.id, n.alive, n.sessions, n.self]),
          [["a", true, counts.a, false], ["b", true, counts.b, false], ["c", true, counts.c, true]],
        );
        assert.equal(fake.devices().length, 30);

        // kill -9 of b: its sessions come back on a and c, from the database, with no QR.
        const onB = linked.filter((s) => s.node === "b").map((s) => s.id);
        const killedAt = Date.now();
        await cluster.kill("b");
        const moved = await cluster.waitForConnected(onB, {
          where: (node) => node !== "b",
          timeoutMs: 30_000,
        });
        const failoverMs = Date.now() - killedAt;
        assert.ok(failoverMs < 30_000, `failover took ${failoverMs} ms`);
        assert.equal(fake.devices().length, 30, "no device was linked again");
        assert.ok(moved.every((s) => s.phoneNumber === phoneOf(Number(s.id.slice(2)))));
        for (const id of onB) {
          const qr = await cluster.node("a").client.request("GET", `/api/sessions/${id}/qr`);
          assert.equal(qr.status, 409, `${id} has no QR pending`);
          await qr.body?.cancel();
        }

        // Sends through either node's API, for sessions on both nodes, arrive once each.
        const all = await cluster.sessions("a");
        const sample = [
          ...all.filter((s) => s.node === "a").slice(0, 2),
          ...all.filter((s) => s.node === "c").slice(0, 2),
        ];
        for (const [i, session] of sample.entries()) {
          for (const via of ["a", "c"]) {
            const text = `hello from ${session.id} via ${via} (${i})`;
            const sent = await cluster.node(via).client.json<{ id: string }>(
              "POST",
              `/api/sessions/${session.id}/messages`,
              { type: "text", to: `+${CONTACT}`, text },
            );
            assert.equal(sent.status, 201, JSON.stringify(sent.body));
            await fake.waitForReceived((m) => m.text === text);
          }
        }
        assertNoDoubleSockets(fake.connectionOverlaps(), all);

        // b comes back (after a crash: its old leases lapsed long ago) and a and c hand it its
        // share, a few sessions a pass, each moved through a new lease, without a QR.
        const rejoinedAt = Date.now();
        await cluster.startNode("b");
        let even: ClusteredSession[] = [];
        while (Date.now() - rejoinedAt < 45_000) {
          even = await cluster.sessions("b");
          const shares = spread(even);
          const balanced = ["a", "b", "c"].every((n) => (shares[n] ?? 0) >= 9);
          if (balanced && even.every((s) => s.status === "connected")) break;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        const shares = spread(even);
        assert.ok(["a", "b", "c"].every((n) => (shares[n] ?? 0) >= 9), JSON.stringify(shares));
        assert.ok(even.every((s) => s.status === "connected"), "every session connected");
        assert.equal(fake.devices().length, 30, "no device was linked again");
        assertNoDoubleSockets(fake.connectionOverlaps(), even);
      } finally {
        await cluster.dispose();
        await fake.close();
      }
    }),
  e2e,
);

/** A device never had two live sockets: a dead node's sockets were closed by its death. */
function assertNoDoubleSockets(
  overlaps: { jid: string; previousSilentMs: number }[],
  sessions: ClusteredSession[],
) {
  assert.deepEqual(
    overlaps,
    [],
    `two live sockets: ${JSON.stringify(overlaps)} (${sessions.length})`,
  );
}

postgresTest(
  "SIGTERM of a node: it closes its sockets without logging out, and its sessions connect on another node within 5 s",
  (pg) =>
    withTempDir(async (root) => {
      const fake = await startFakeWhatsApp();
      const cluster = await TestCluster.start({ fake, pg, root, nodes: ["a", "b"] });
      try {
        const ids = Array.from({ length: 6 }, (_, i) => idOf(i));
        await linkAll(cluster, "a", ids, fake);
        const linked = await cluster.waitForConnected(ids, { timeoutMs: 60_000 });
        const onB = linked.filter((s) => s.node === "b").map((s) => s.id);
        assert.ok(onB.length >= 2, JSON.stringify(spread(linked)));

        const stoppedAt = Date.now();
        await cluster.stop("b");
        await cluster.waitForConnected(onB, { where: (node) => node === "a", timeoutMs: 20_000 });
        const handoffMs = Date.now() - stoppedAt;
        assert.ok(handoffMs < 5_000, `handoff took ${handoffMs} ms`);
        assert.ok(fake.devices().every((d) => !d.removed), "nothing was logged out");
        assert.equal(fake.devices().length, 6);
        assert.deepEqual(fake.connectionOverlaps(), [], "b closed its sockets before a opened");
        const nodes = await cluster.node("a").client.json<{ nodes: { id: string }[] }>(
          "GET",
          "/api/cluster/nodes",
        );
        assert.deepEqual(nodes.body.nodes.map((n) => n.id), ["a"], "b left the registry");
      } finally {
        await cluster.dispose();
        await fake.close();
      }
    }),
  e2e,
);

postgresTest(
  "a node frozen (SIGSTOP) past its lease: its sessions move; resumed, it writes nothing under its old epoch and never reconnects them",
  (pg) =>
    withTempDir(async (root) => {
      const fake = await startFakeWhatsApp();
      const ttl = 6_000;
      const cluster = await TestCluster.start({
        fake,
        pg,
        root,
        nodes: ["a", "b"],
        leaseTtlMs: ttl,
      });
      try {
        const ids = Array.from({ length: 6 }, (_, i) => idOf(i));
        await linkAll(cluster, "a", ids, fake);
        const linked = await cluster.waitForConnected(ids, { timeoutMs: 60_000 });
        const onB = new Set(linked.filter((s) => s.node === "b").map((s) => s.id));
        assert.ok(onB.size >= 2, JSON.stringify(spread(linked)));
        const b = cluster.node("b");
        const jidsOfB = new Set(
          fake.devices()
            .filter((d) => linked.some((s) => onB.has(s.id) && s.phoneNumber === d.phoneNumber))
            .map((d) => d.jid),
        );

        b.gateway.kill("SIGSTOP");
        let resumed = false;
        try {
          await cluster.waitForConnected([...onB], {
            where: (node) => node === "a",
            via: "a",
            timeoutMs: 40_000,
          });
          const takenOver = fake.connectionOverlaps();
          b.gateway.kill("SIGCONT");
          resumed = true;
          // Only the frozen node's stale sockets were replaced, and they had been silent.
          for (const overlap of takenOver) {
            assert.ok(jidsOfB.has(overlap.jid), `a device of b's: ${overlap.jid}`);
            assert.ok(overlap.previousSilentMs >= ttl / 2, JSON.stringify(overlap));
          }
          // Resumed, b finds its leases gone: it closes those sockets and reconnects none.
          const lostLine = await b.gateway.waitForLog(
            (line) =>
              line.msg === "session lease lost" ||
              line.msg === "session lease lost; closing its connection" ||
              String(line.msg).startsWith("lease renewals not confirmed"),
            20_000,
          );
          await new Promise((resolve) => setTimeout(resolve, 3 * ttl / 4 + 1_000));
          assert.deepEqual(fake.connectionOverlaps(), takenOver, "b opened no socket again");
          // Later a may hand some back to even out the load: only through a new lease (a higher
          // epoch than b ever held), after a closed its socket.
          const epochs = (phase: "before" | "after") => {
            const byId = new Map<string, number>();
            const lines = b.gateway.logs;
            const frozenAt = lines.indexOf(lostLine);
            for (const [i, line] of lines.entries()) {
              if (
                line.msg !== "session acquired" || (phase === "before") !== (i < frozenAt)
              ) continue;
              byId.set(String(line.sessionId), Number(line.epoch));
            }
            return byId;
          };
          const before = epochs("before");
          for (const [id, epoch] of epochs("after")) {
            assert.ok(epoch > (before.get(id) ?? 0) + 1, `${id}: re-acquired under a new epoch`);
          }
          const after = await cluster.sessions("a");
          for (const session of after.filter((s) => onB.has(s.id))) {
            assert.equal(session.status, "connected", `${session.id}: b's stale report refused`);
          }
        } finally {
          if (!resumed) b.gateway.kill("SIGCONT");
        }
      } finally {
        await cluster.dispose();
        await fake.close();
      }
    }),
  e2e,
);
