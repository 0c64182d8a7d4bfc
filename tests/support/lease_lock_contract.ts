/**
 * The contract written on `LeaseLock` and `NodeRegistry` (`src/ownership/`), as one suite that
 * each implementation's test file runs against its own backend.
 */
import assert from "node:assert/strict";
import type { SessionId } from "../../src/domain/session_id.ts";
import type { Lease, LeaseLock } from "../../src/ownership/lease_lock.ts";
import type { NodeRegistry } from "../../src/ownership/node_registry.ts";

/** One backend, as several nodes see it. */
export interface LeaseBackend {
  /** A lock held as `identity`, as a separate node would have it (its own client, if any). */
  lock(identity: string): LeaseLock;
  /** The node registry, as a separate node would have it. */
  registry(): NodeRegistry;
  /** Makes a session exist in the store (leases are only for sessions that exist). */
  createSession(id: SessionId): Promise<void>;
  /** Removes a session from the store. */
  removeSession(id: SessionId): Promise<void>;
  /** The store's clock. */
  storeNow(): Promise<Date>;
}

/** Registers one contract test that gets a fresh backend. */
export type BackendTest<B> = (name: string, fn: (backend: B) => Promise<void>) => void;

const TTL = 60_000;
/** Short enough for a test to wait it out, long enough for a loaded machine to act within it. */
const SHORT_TTL = 400;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ids = (...names: string[]) => names.map((name) => name as SessionId);
const epochs = (leases: Lease[]) =>
  Object.fromEntries(leases.map((lease) => [lease.sessionId, lease.epoch]));

/**
 * Registers the `LeaseLock` contract.
 *
 * @example
 * ```ts
 * leaseLockContract((name, fn) => Deno.test(`local: ${name}`, () => fn(localBackend())));
 * ```
 */
export function leaseLockContract(test: BackendTest<LeaseBackend>): void {
  test("acquire() takes unheld sessions that exist, and nothing else", async (backend) => {
    await backend.createSession("a" as SessionId);
    await backend.createSession("b" as SessionId);
    const a = backend.lock("node-a");
    const taken = await a.acquire(ids("a", "b", "unknown"), TTL);
    assert.deepEqual(Object.keys(epochs(taken)).sort(), ["a", "b"]);
    assert.deepEqual(await backend.lock("node-b").acquire(ids("a", "b"), TTL), []);
    const record = await backend.lock("node-b").get("a" as SessionId);
    assert.equal(record?.holder, "node-a");
    assert.equal(record?.epoch, epochs(taken).a);
    assert.equal(record?.expired, false);
    assert.equal(await a.get("unknown" as SessionId), undefined);
  });

  test("an expired lease is acquired by another node under a higher epoch", async (backend) => {
    await backend.createSession("a" as SessionId);
    const [first] = await backend.lock("node-a").acquire(ids("a"), SHORT_TTL);
    assert.ok(first);
    await sleep(SHORT_TTL + 200);
    const record = await backend.lock("node-b").get("a" as SessionId);
    assert.equal(record?.expired, true, "judged expired by the store");
    const [second] = await backend.lock("node-b").acquire(ids("a"), TTL);
    assert.ok(second, "node-b takes the lapsed lease");
    assert.ok(second.epoch > first.epoch, `${second.epoch} > ${first.epoch}`);
  });

  test("expiry is in the store's clock: expiresAt is the store's now plus the TTL", async (backend) => {
    await backend.createSession("a" as SessionId);
    const before = await backend.storeNow();
    await backend.lock("node-a").acquire(ids("a"), TTL);
    const after = await backend.storeNow();
    const record = await backend.lock("node-a").get("a" as SessionId);
    const expires = record!.expiresAt.getTime();
    assert.ok(expires >= before.getTime() + TTL - 5, "not before the store's now + TTL");
    assert.ok(expires <= after.getTime() + TTL + 5, "not after the store's now + TTL");
  });

  test("nodes acquiring the same sessions at once never both win, round after round", async (backend) => {
    const sessions = Array.from({ length: 20 }, (_, i) => `s${i}` as SessionId);
    for (const id of sessions) await backend.createSession(id);
    const nodes = ["n1", "n2", "n3", "n4", "n5"].map((id) => backend.lock(id));
    const lastEpoch = new Map<SessionId, number>();
    for (let round = 0; round < 4; round++) {
      const results = await Promise.all(nodes.map((lock) => lock.acquire(sessions, SHORT_TTL)));
      const winners = new Map<SessionId, string[]>();
      results.forEach((leases, index) => {
        for (const lease of leases) {
          winners.set(lease.sessionId, [
            ...(winners.get(lease.sessionId) ?? []),
            nodes[index].identity,
          ]);
          assert.ok(lease.epoch > (lastEpoch.get(lease.sessionId) ?? 0), "epochs increase");
          lastEpoch.set(lease.sessionId, lease.epoch);
        }
      });
      for (const id of sessions) {
        assert.equal(winners.get(id)?.length, 1, `round ${round}: ${id} won by ${winners.get(id)}`);
      }
      await sleep(SHORT_TTL + 150);
    }
  });

  test("renew() extends only leases held by this node under their epoch", async (backend) => {
    await backend.createSession("a" as SessionId);
    await backend.createSession("b" as SessionId);
    const a = backend.lock("node-a");
    const leases = await a.acquire(ids("a", "b"), TTL);
    const before = (await a.get("a" as SessionId))!.expiresAt.getTime();
    await sleep(20);
    assert.deepEqual(epochs(await a.renew(leases, TTL * 2)), epochs(leases));
    assert.ok((await a.get("a" as SessionId))!.expiresAt.getTime() > before);
    assert.deepEqual(await backend.lock("node-b").renew(leases, TTL), [], "another node's");
    const stale = leases.map((lease) => ({ ...lease, epoch: lease.epoch - 1 }));
    assert.deepEqual(await a.renew(stale, TTL), [], "an older epoch");
  });

  test("a lapsed lease is reported lost by renew() and never revived", async (backend) => {
    await backend.createSession("a" as SessionId);
    const a = backend.lock("node-a");
    const leases = await a.acquire(ids("a"), SHORT_TTL);
    await sleep(SHORT_TTL + 200);
    assert.deepEqual(await a.renew(leases, TTL), [], "lapsed, even though nobody took it");
    assert.equal((await a.get("a" as SessionId))?.expired, true);
    const [taken] = await backend.lock("node-b").acquire(ids("a"), TTL);
    assert.ok(taken);
    assert.deepEqual(await a.renew(leases, TTL), [], "and after it was taken");
    assert.equal((await a.get("a" as SessionId))?.holder, "node-b");
  });

  test("release() frees only leases held under their epoch; another node takes them at once", async (backend) => {
    await backend.createSession("a" as SessionId);
    const a = backend.lock("node-a");
    const b = backend.lock("node-b");
    const [first] = await a.acquire(ids("a"), TTL);
    await b.release([first]);
    assert.equal((await a.get("a" as SessionId))?.holder, "node-a", "not by another node");
    await a.release([{ ...first, epoch: first.epoch - 1 }]);
    assert.equal((await a.get("a" as SessionId))?.holder, "node-a", "not under an old epoch");
    await a.release([first]);
    const released = await a.get("a" as SessionId);
    assert.equal(released?.holder, null);
    const [second] = await b.acquire(ids("a"), TTL);
    assert.equal(second?.epoch, first.epoch + 1);
    await a.release([first]);
    assert.equal((await a.get("a" as SessionId))?.holder, "node-b", "a stale release is a no-op");
  });

  test("list() shows every leased session with holder, epoch and expiry", async (backend) => {
    for (const id of ids("a", "b", "c")) await backend.createSession(id);
    await backend.lock("node-a").acquire(ids("a"), TTL);
    await backend.lock("node-b").acquire(ids("b"), TTL);
    const list = await backend.lock("node-c").list();
    const byId = Object.fromEntries(list.map((lease) => [lease.sessionId, lease]));
    assert.deepEqual(Object.keys(byId).sort(), ["a", "b"]);
    assert.equal(byId.a.holder, "node-a");
    assert.equal(byId.b.holder, "node-b");
    assert.equal(byId.a.expired, false);
  });

  test("a removed and re-created session never gets an epoch it had before", async (backend) => {
    await backend.createSession("a" as SessionId);
    const a = backend.lock("node-a");
    const [first] = await a.acquire(ids("a"), SHORT_TTL);
    await backend.removeSession("a" as SessionId);
    await sleep(SHORT_TTL + 200);
    assert.deepEqual(await a.acquire(ids("a"), TTL), [], "gone");
    await backend.createSession("a" as SessionId);
    const [second] = await backend.lock("node-b").acquire(ids("a"), TTL);
    assert.ok(second && second.epoch > first.epoch, `${second?.epoch} > ${first.epoch}`);
  });
}

/**
 * Registers the `NodeRegistry` contract.
 *
 * @example
 * ```ts
 * nodeRegistryContract((name, fn) => Deno.test(`local: ${name}`, () => fn(localBackend())));
 * ```
 */
export function nodeRegistryContract(test: BackendTest<LeaseBackend>): void {
  test("heartbeat() registers a node that every node lists as alive", async (backend) => {
    await backend.registry().heartbeat({ id: "n1", url: "http://n1:3000", draining: false }, TTL);
    const [node] = await backend.registry().list();
    assert.equal(node.id, "n1");
    assert.equal(node.url, "http://n1:3000");
    assert.equal(node.alive, true);
    assert.equal(node.draining, false);
    assert.ok(node.startedAt.getTime() <= node.heartbeatAt.getTime());
  });

  test("a node whose heartbeats stop is listed as not alive after its TTL", async (backend) => {
    await backend.registry().heartbeat({ id: "n1", url: "http://n1", draining: false }, SHORT_TTL);
    await sleep(SHORT_TTL + 200);
    const [node] = await backend.registry().list();
    assert.equal(node.alive, false);
    await backend.registry().heartbeat({ id: "n1", url: "http://n1", draining: false }, TTL);
    assert.equal((await backend.registry().list())[0].alive, true);
  });

  test("heartbeat() updates the URL, the draining flag and the heartbeat time", async (backend) => {
    const registry = backend.registry();
    await registry.heartbeat({ id: "n1", url: "http://old", draining: false }, TTL);
    const [first] = await registry.list();
    await sleep(20);
    await registry.heartbeat({ id: "n1", url: "http://new", draining: true }, TTL);
    const [second] = await backend.registry().list();
    assert.equal(second.url, "http://new");
    assert.equal(second.draining, true);
    assert.ok(second.heartbeatAt.getTime() > first.heartbeatAt.getTime());
    assert.equal(second.startedAt.getTime(), first.startedAt.getTime());
  });

  test("leave() removes the node", async (backend) => {
    await backend.registry().heartbeat({ id: "n1", url: "http://n1", draining: false }, TTL);
    await backend.registry().heartbeat({ id: "n2", url: "http://n2", draining: false }, TTL);
    await backend.registry().leave("n1");
    assert.deepEqual((await backend.registry().list()).map((node) => node.id), ["n2"]);
  });
}
