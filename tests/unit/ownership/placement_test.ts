import { deepStrictEqual as assertEquals } from "node:assert/strict";
import type { SessionId } from "../../../src/domain/session_id.ts";
import type { LeaseRecord } from "../../../src/ownership/lease_lock.ts";
import type { NodeRecord } from "../../../src/ownership/node_registry.ts";
import { type ClusterView, decidePlacement } from "../../../src/ownership/placement.ts";

const OPTIONS = { claimGraceMs: 10_000, moveShare: 0.1 };
const T0 = new Date(0);

function node(id: string, extra: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id,
    url: `http://${id}`,
    startedAt: T0,
    heartbeatAt: T0,
    alive: true,
    draining: false,
    ...extra,
  };
}

function lease(sessionId: string, holder: string | null, expired = false): LeaseRecord {
  return { sessionId: sessionId as SessionId, holder, epoch: 1, expiresAt: T0, expired };
}

/** Test views are written with plain strings; session ids are branded. */
type Loose = Partial<
  Omit<ClusterView, "sessions" | "leases" | "held" | "unownedForMs"> & {
    sessions: readonly string[];
    leases: ReadonlyMap<string, LeaseRecord>;
    held: ReadonlySet<string>;
    unownedForMs: ReadonlyMap<string, number>;
  }
>;

function view(extra: Loose): ClusterView {
  return {
    self: "a",
    selfDraining: false,
    sessions: [],
    leases: new Map(),
    nodes: [node("a"), node("b"), node("c")],
    held: new Set(),
    unownedForMs: new Map(),
    ...extra,
  } as ClusterView;
}

function sessions(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `s${String(i).padStart(3, "0")}`);
}

Deno.test("decidePlacement() spreads unowned sessions over the nodes, and each takes its own share", () => {
  const all = sessions(30);
  const taken = ["a", "b", "c"].map((self) =>
    decidePlacement(view({ self, sessions: all }), OPTIONS).acquire
  );
  assertEquals(taken.map((ids) => ids.length), [10, 10, 10]);
  assertEquals(new Set(taken.flat()).size, 30);
});

Deno.test("decidePlacement() gives a new session to the node with the fewest", () => {
  const all = [...sessions(5), "new"];
  const leases = new Map(
    sessions(5).map((id, i) => [id, lease(id, i < 3 ? "a" : "b")] as const),
  );
  const held = (self: string) =>
    new Set([...leases.values()].filter((l) => l.holder === self).map((l) => l.sessionId));
  const decide = (self: string) =>
    decidePlacement(view({ self, sessions: all, leases, held: held(self) }), OPTIONS).acquire;
  assertEquals(decide("c"), ["new"]);
  assertEquals(decide("a"), []);
  assertEquals(decide("b"), []);
});

Deno.test("decidePlacement() takes any unowned session once its grace has passed", () => {
  const all = ["x"];
  const nodes = [node("a"), node("b")];
  const held = new Set<string>();
  const leases = new Map([["x", lease("x", null)]]);
  // "x" falls to "a" (fewest, then lowest id); "b" waits for the grace.
  assertEquals(decidePlacement(view({ self: "b", nodes, sessions: all, leases, held }), OPTIONS), {
    acquire: [],
    release: [],
  });
  const late = new Map([["x", 10_000]]);
  assertEquals(
    decidePlacement(
      view({ self: "b", nodes, sessions: all, leases, held, unownedForMs: late }),
      OPTIONS,
    ).acquire,
    ["x"],
  );
});

Deno.test("decidePlacement() treats an expired lease as unowned and a live one as taken", () => {
  const leases = new Map([
    ["dead", lease("dead", "b", true)],
    ["live", lease("live", "b")],
  ]);
  const decision = decidePlacement(
    view({ nodes: [node("a"), node("b")], sessions: ["dead", "live"], leases }),
    OPTIONS,
  );
  assertEquals(decision.acquire, ["dead"]);
});

Deno.test("decidePlacement() leaves dead and draining nodes out of the assignment", () => {
  const nodes = [node("a"), node("b", { alive: false }), node("c", { draining: true })];
  assertEquals(decidePlacement(view({ nodes, sessions: sessions(4) }), OPTIONS).acquire.length, 4);
});

Deno.test("decidePlacement() waits for a lease held under its own name by another process", () => {
  const leases = new Map([["x", lease("x", "a")]]);
  assertEquals(
    decidePlacement(view({ nodes: [node("a")], sessions: ["x"], leases }), OPTIONS).acquire,
    [],
  );
});

Deno.test("decidePlacement() evens the load a move at a time when a node holds few, never while sessions are unowned", () => {
  const all = sessions(10);
  const leases = new Map(all.map((id, i) => [id, lease(id, i < 5 ? "a" : "b")] as const));
  const held = new Set(all.slice(0, 5));
  const joined = [node("a"), node("b"), node("c")];
  assertEquals(
    decidePlacement(view({ nodes: joined, sessions: all, leases, held }), OPTIONS).release,
    ["s004"],
  );
  // Balanced enough (5 against 4): nothing moves.
  const two = [node("a"), node("b")];
  const fewer = new Map([...leases].filter(([id]) => id !== "s009"));
  assertEquals(
    decidePlacement(view({ nodes: two, sessions: all.slice(0, 9), leases: fewer, held }), OPTIONS)
      .release,
    [],
  );
  // An unowned session pending: no moves until it has an owner.
  const withNew = [...all, "new"];
  assertEquals(
    decidePlacement(view({ nodes: joined, sessions: withNew, leases, held }), OPTIONS).release,
    [],
  );
});

Deno.test("decidePlacement() gives up a tenth of what it holds per pass, never past half the difference", () => {
  const all = sessions(300);
  const leases = new Map(all.map((id) => [id, lease(id, "a")] as const));
  const held = new Set(all);
  // Three nodes started together, the first one took all 300: it gives up 30 in a pass.
  const first = decidePlacement(view({ sessions: all, leases, held }), OPTIONS).release;
  assertEquals(first, all.slice(-30));
  // Nearly even (104 against 98): half the difference, 3, not a tenth, 10.
  const mine = all.slice(0, 104);
  const near = new Map(
    all.map((id, i) => [id, lease(id, i < 104 ? "a" : i < 202 ? "b" : "c")] as const),
  );
  assertEquals(
    decidePlacement(view({ sessions: all, leases: near, held: new Set(mine) }), OPTIONS).release,
    mine.slice(-3),
  );
  // A share of 0 never moves anything.
  assertEquals(
    decidePlacement(view({ sessions: all, leases, held }), { ...OPTIONS, moveShare: 0 }).release,
    [],
  );
});

Deno.test("decidePlacement() does nothing while the node drains", () => {
  assertEquals(decidePlacement(view({ selfDraining: true, sessions: sessions(3) }), OPTIONS), {
    acquire: [],
    release: [],
  });
});
