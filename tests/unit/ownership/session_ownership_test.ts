import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import type { SessionId } from "../../../src/domain/session_id.ts";
import type { Lease, LeaseLock } from "../../../src/ownership/lease_lock.ts";
import { LocalLeaseTable } from "../../../src/ownership/local_lease_lock.ts";
import { type LossReason, SessionOwnership } from "../../../src/ownership/session_ownership.ts";
import { testLogger } from "../../support/logger.ts";

const TTL = 20_000;

/** Several nodes over one lease table, on one manual clock (the store's and the nodes' own). */
function cluster(sessionCount: number) {
  let now = 0;
  const sessions = new Set<SessionId>(
    Array.from({ length: sessionCount }, (_, i) => `s${String(i).padStart(2, "0")}` as SessionId),
  );
  const table = new LocalLeaseTable({ sessionExists: (id) => sessions.has(id), now: () => now });
  const nodes = new Map<string, ReturnType<typeof node>>();
  function node(id: string, lock: LeaseLock = table.lock(id)) {
    const running = new Map<SessionId, number>();
    const losses: Array<{ id: SessionId; reason: LossReason }> = [];
    const ownership = new SessionOwnership({
      lock,
      registry: table.registry,
      node: { id, url: `http://${id}` },
      sessions: () => Promise.resolve([...sessions]),
      listener: {
        onAcquired: (lease: Lease) => running.set(lease.sessionId, lease.epoch),
        onLost: (sessionId, reason) => {
          running.delete(sessionId);
          losses.push({ id: sessionId, reason });
          return Promise.resolve();
        },
      },
      logger: testLogger(),
      ttlMs: TTL,
      now: () => now,
    });
    const handle = { ownership, running, losses };
    nodes.set(id, handle);
    return handle;
  }
  return {
    sessions,
    table,
    node,
    advance: (ms: number) => (now += ms),
    /** Sessions running on more than one node (never allowed). */
    doubles: () => {
      const seen = new Map<SessionId, number>();
      for (const { running } of nodes.values()) {
        for (const id of running.keys()) seen.set(id, (seen.get(id) ?? 0) + 1);
      }
      return [...seen].filter(([, n]) => n > 1).map(([id]) => id);
    },
  };
}

Deno.test("SessionOwnership: two nodes split the sessions, each run by exactly one, with fences", async () => {
  const c = cluster(10);
  const a = c.node("a");
  const b = c.node("b");
  await a.ownership.pass();
  await b.ownership.pass();
  // Both registered only now: a second round lets each see the other and settle.
  for (let i = 0; i < 6; i++) {
    c.advance(5_000);
    await a.ownership.pass();
    await b.ownership.pass();
  }
  assertEquals(a.running.size + b.running.size, 10);
  assertEquals(c.doubles(), []);
  assert(Math.abs(a.running.size - b.running.size) <= 1, `${a.running.size}/${b.running.size}`);
  for (const [id, epoch] of a.running) {
    assertEquals(a.ownership.fenceOf(id), { sessionId: id, epoch });
  }
  assertEquals(b.ownership.fenceOf([...a.running.keys()][0]), undefined);
});

Deno.test("SessionOwnership: a dead node's sessions are taken once its leases lapse, not before", async () => {
  const c = cluster(6);
  const a = c.node("a");
  const b = c.node("b");
  await a.ownership.pass();
  await b.ownership.pass();
  assertEquals(a.running.size, 6);
  // "a" dies: it passes no more. Before its leases lapse, "b" takes nothing.
  c.advance(TTL - 1);
  await b.ownership.pass();
  assertEquals(b.running.size, 0);
  c.advance(1);
  await b.ownership.pass();
  assertEquals(b.running.size, 6);
  for (const [id, epoch] of b.running) assertEquals(epoch, 2, id);
});

Deno.test("SessionOwnership: unconfirmed renewals close the sessions before the lease can lapse", async () => {
  const c = cluster(3);
  let failing = false;
  const real = c.table.lock("a");
  const flaky: LeaseLock = {
    ...real,
    identity: "a",
    renew: (leases, ttl) =>
      failing ? Promise.reject(new Error("db down")) : real.renew(leases, ttl),
  };
  const a = c.node("a", flaky);
  await a.ownership.pass();
  assertEquals(a.running.size, 3);
  failing = true;
  for (let t = 0; t < TTL; t += 1_000) {
    c.advance(1_000);
    a.ownership.checkSelfFence();
    if (t % 5_000 === 0) await a.ownership.pass();
    const leases = await real.list();
    if (leases.some((l) => l.expired)) {
      assertEquals(a.running.size, 0, "a lease lapsed while its session still ran");
    }
  }
  assertEquals(a.running.size, 0);
  assertEquals(a.losses.map((l) => l.reason), ["self_fenced", "self_fenced", "self_fenced"]);
});

Deno.test("SessionOwnership: a frozen node finds its leases lost and never runs them again", async () => {
  const c = cluster(4);
  const a = c.node("a");
  const b = c.node("b");
  await a.ownership.pass();
  await b.ownership.pass();
  c.advance(TTL + 1); // "a" frozen (SIGSTOP): no pass, no watchdog
  await b.ownership.pass();
  assertEquals(b.running.size, 4);
  // "a" resumes: whichever runs first, its sessions close and "b" keeps them.
  await a.ownership.pass();
  assertEquals(a.running.size, 0);
  assertEquals(c.doubles(), []);
  assertEquals(a.losses.map((l) => l.reason), Array(4).fill("lease_lost"));
  c.advance(5_000);
  await a.ownership.pass();
  await b.ownership.pass();
  assertEquals(c.doubles(), []);
});

Deno.test("SessionOwnership: a fenced write drops the session; a stale fence is ignored", async () => {
  const c = cluster(2);
  const a = c.node("a");
  await a.ownership.pass();
  const fence = a.ownership.fenceOf("s00" as SessionId)!;
  await a.ownership.lost({ ...fence, epoch: fence.epoch - 1 }, "fenced");
  assert(a.running.has("s00" as SessionId));
  await a.ownership.lost(fence, "fenced");
  assert(!a.running.has("s00" as SessionId));
  assertEquals(a.ownership.fenceOf("s00" as SessionId), undefined);
  assertEquals(a.losses, [{ id: "s00", reason: "fenced" }]);
});

Deno.test("SessionOwnership: stop closes every session first, then releases, so others take them at once", async () => {
  const c = cluster(5);
  const real = c.table.lock("a");
  const stillRunningAtRelease: number[] = [];
  const a = c.node("a", {
    ...real,
    identity: "a",
    release: (leases) => {
      stillRunningAtRelease.push(a.running.size);
      return real.release(leases);
    },
  });
  const b = c.node("b");
  await a.ownership.pass();
  await b.ownership.pass();
  assertEquals(a.running.size, 5);
  await a.ownership.stop();
  assertEquals(a.losses.map((l) => l.reason), Array(5).fill("shutdown"));
  assertEquals(stillRunningAtRelease, [0]);
  assertEquals((await c.table.registry.list()).map((n) => n.id), ["b"]);
  await b.ownership.pass(); // no TTL waited
  assertEquals(b.running.size, 5);
});

Deno.test("SessionOwnership: a node that joins takes a fair share over time, one move per pass", async () => {
  const c = cluster(9);
  const a = c.node("a");
  await a.ownership.pass();
  assertEquals(a.running.size, 9);
  const b = c.node("b");
  const sizes: number[][] = [];
  for (let i = 0; i < 12; i++) {
    c.advance(5_000);
    await a.ownership.pass();
    await b.ownership.pass();
    sizes.push([a.running.size, b.running.size]);
    assertEquals(c.doubles(), []);
  }
  // Never more than one session in flight between them per pass.
  for (let i = 1; i < sizes.length; i++) assert(Math.abs(sizes[i][0] - sizes[i - 1][0]) <= 1);
  assertEquals(sizes.at(-1)!.toSorted(), [4, 5]);
});
