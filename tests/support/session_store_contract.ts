/**
 * The contract written on `SessionStore` (`src/domain/session_store.ts`), as one suite that each
 * implementation's test file runs against its own backend: durable on resolve, no lost updates,
 * invalid data reported and never dropped, ids validated, and (for stores shared by several
 * nodes) writes refused under a stale fence.
 */
import assert from "node:assert/strict";
import {
  FencedOutError,
  InvalidSessionIdError,
  SessionAlreadyExistsError,
  SessionNotFoundError,
} from "../../src/domain/errors.ts";
import type { Fence } from "../../src/domain/fence.ts";
import type { SessionId } from "../../src/domain/session_id.ts";
import type { SessionStore, StoreLoadReport } from "../../src/domain/session_store.ts";
import type { BackendTest } from "./lease_lock_contract.ts";
import { sessionRecord } from "./persistence_fixtures.ts";

/** One backend for the suite. */
export interface SessionStoreHarness {
  /** Opens a store on the backend (close the previous one first where only one may be open). */
  open(): Promise<{ store: SessionStore; load: StoreLoadReport }>;
  /** The fence under which the stores opened here own `id` (a lease, for a shared store). */
  own(id: SessionId): Promise<Fence>;
  /** Makes the stored record of `id` invalid, behind the store's back (no store open). */
  corrupt(id: SessionId): Promise<void>;
  /** Whether what was stored for `id` is still kept somewhere (not dropped). */
  stillStored(id: SessionId): Promise<boolean>;
  /** Another node's store on the same backend, open at the same time (shared stores only). */
  peer?(): Promise<SessionStore>;
  /** Another node takes `id` over (shared stores only). */
  takeOver?(id: SessionId): Promise<void>;
}

const id = (value: string) => value as SessionId;
const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array | undefined) => data && new TextDecoder().decode(data);

/**
 * Registers the `SessionStore` contract.
 *
 * @example
 * ```ts
 * sessionStoreContract((name, fn) => Deno.test(`file: ${name}`, () => withTempDir((dir) => fn(fileHarness(dir)))));
 * ```
 */
export function sessionStoreContract(test: BackendTest<SessionStoreHarness>): void {
  test("a created session is read back by a store opened afterwards", async (h) => {
    const first = await h.open();
    const record = sessionRecord("shop-1", {
      name: "Shop",
      webhooks: [{ url: "https://example.com/hook", secret: "s3cret-0123456789", events: [] }],
    });
    await first.store.create(record);
    assert.deepEqual(await first.store.get(id("shop-1")), record);
    await first.store.close();
    const second = await h.open();
    try {
      assert.deepEqual(second.load.sessions, [record]);
      assert.deepEqual(await second.store.list(), [record]);
    } finally {
      await second.store.close();
    }
  });

  test("create() refuses an id that exists", async (h) => {
    const { store } = await h.open();
    try {
      await store.create(sessionRecord("a", { name: "first" }));
      await assert.rejects(
        store.create(sessionRecord("a", { name: "second" })),
        SessionAlreadyExistsError,
      );
      assert.equal((await store.get(id("a")))?.name, "first");
    } finally {
      await store.close();
    }
  });

  test("updateSpec() and report() each change only their own half", async (h) => {
    const { store } = await h.open();
    try {
      await store.create(sessionRecord("a", { name: "old", status: "connecting" }));
      const fence = await h.own(id("a"));
      const reported = await store.report(fence, {
        status: "connected",
        phoneNumber: "15550001111",
        // deno-lint-ignore no-explicit-any
        name: "not a report field" as any,
      } as never);
      assert.equal(reported.status, "connected");
      assert.equal(reported.name, "old", "a report never carries spec fields");
      const updated = await store.updateSpec(id("a"), (current) => ({
        name: `${current.name}-renamed`,
        desiredState: "stopped",
        // deno-lint-ignore no-explicit-any
        status: "failed" as any,
      } as never));
      assert.equal(updated.name, "old-renamed");
      assert.equal(updated.desiredState, "stopped");
      assert.equal(updated.status, "connected", "a spec change never carries report fields");
      assert.equal(updated.phoneNumber, "15550001111");
      assert.deepEqual(await store.get(id("a")), updated);
    } finally {
      await store.close();
    }
  });

  test("a report changes only the fields it names; the others keep what earlier reports wrote", async (h) => {
    const { store } = await h.open();
    try {
      await store.create(sessionRecord("a"));
      const fence = await h.own(id("a"));
      const lastDisconnect = {
        code: 428,
        reason: "connection_closed" as const,
        message: "closed",
        at: "2026-01-01T00:00:00.000Z",
      };
      await store.report(fence, {
        status: "connected",
        phoneNumber: "15550001111",
        pushName: "Front desk",
        connectedAt: "2026-01-01T00:00:01.000Z",
        lastDisconnectedAt: "2026-01-01T00:00:00.000Z",
        lastDisconnect,
      });
      await store.report(fence, { pushName: "Back office", updatedAt: "2026-01-01T00:00:02.000Z" });
      const expected = {
        status: "connected",
        phoneNumber: "15550001111",
        pushName: "Back office",
        connectedAt: "2026-01-01T00:00:01.000Z",
        lastDisconnectedAt: "2026-01-01T00:00:00.000Z",
        lastDisconnect,
        updatedAt: "2026-01-01T00:00:02.000Z",
      };
      const stored = await store.get(id("a"));
      for (const [field, value] of Object.entries(expected)) {
        assert.deepEqual(stored?.[field as keyof typeof expected], value, field);
      }
    } finally {
      await store.close();
    }
  });

  test("updateSpec(), report() of an unknown session throw SessionNotFoundError", async (h) => {
    const { store } = await h.open();
    try {
      await assert.rejects(
        store.updateSpec(id("nope"), () => ({ name: "x" })),
        SessionNotFoundError,
      );
      assert.equal(await store.get(id("nope")), undefined);
    } finally {
      await store.close();
    }
  });

  test("ids and auth file names are validated before anything is read or written", async (h) => {
    const { store } = await h.open();
    try {
      for (const bad of ["../etc", "", "a/b", "x".repeat(65), ".hidden"]) {
        await assert.rejects(
          async () => await store.create({ ...sessionRecord("ok"), id: bad as SessionId }),
          InvalidSessionIdError,
        );
        await assert.rejects(async () => await store.get(bad as SessionId), InvalidSessionIdError);
        await assert.rejects(
          async () => await store.updateSpec(bad as SessionId, () => ({})),
          InvalidSessionIdError,
        );
        await assert.rejects(
          async () => await store.remove(bad as SessionId),
          InvalidSessionIdError,
        );
        assert.throws(
          () => store.auth({ sessionId: bad as SessionId, epoch: 1 }),
          InvalidSessionIdError,
        );
      }
      await store.create(sessionRecord("ok"));
      const auth = store.auth(await h.own(id("ok")));
      for (const name of ["../creds.json", "a/b", "", ".."]) {
        await assert.rejects(async () => await auth.write(new Map([[name, bytes("x")]])));
        await assert.rejects(async () => await auth.read(name));
      }
      assert.deepEqual(await store.list(), [sessionRecord("ok")]);
      assert.deepEqual(await auth.list(), []);
    } finally {
      await store.close();
    }
  });

  test("1,000 concurrent spec updates and reports lose nothing", async (h) => {
    const { store } = await h.open();
    const peer = h.peer ? await h.peer() : store;
    try {
      const sessions = Array.from({ length: 10 }, (_, i) => `s${i}` as SessionId);
      for (const sessionId of sessions) await store.create(sessionRecord(sessionId, { name: "0" }));
      const fences = new Map<SessionId, Fence>();
      for (const sessionId of sessions) fences.set(sessionId, await h.own(sessionId));
      const writes: Promise<unknown>[] = [];
      for (let round = 0; round < 50; round++) {
        for (const sessionId of sessions) {
          // Each increment reads the name it replaces: a lost update shows as a lower count.
          const writer = round % 2 === 0 ? store : peer;
          writes.push(
            writer.updateSpec(sessionId, (current) => ({ name: String(Number(current.name) + 1) })),
          );
          writes.push(store.report(fences.get(sessionId)!, { pushName: `push-${round}` }));
        }
      }
      assert.equal(writes.length, 1_000);
      await Promise.all(writes);
      for (const sessionId of sessions) {
        const record = await peer.get(sessionId);
        assert.equal(record?.name, "50", `${sessionId}: every increment kept`);
        assert.equal(record?.pushName, "push-49", `${sessionId}: reports applied in call order`);
      }
    } finally {
      if (peer !== store) await peer.close();
      await store.close();
    }
  });

  test("an auth batch (1,000 pre-keys and creds) is durable and read back whole", async (h) => {
    const first = await h.open();
    await first.store.create(sessionRecord("a"));
    const fence = await h.own(id("a"));
    const batch = new Map<string, Uint8Array | null>([["creds.json", bytes('{"me":1}')]]);
    for (let i = 1; i <= 1_000; i++) batch.set(`pre-key-${i}.json`, bytes(`{"k":${i}}`));
    await first.store.auth(fence).write(batch);
    await first.store.auth(fence).write(
      new Map([["pre-key-1.json", null], ["pre-key-2.json", bytes('{"k":"two"}')]]),
    );
    await first.store.close();
    const second = await h.open();
    try {
      const auth = second.store.auth(fence);
      assert.equal(await auth.exists(), true);
      assert.equal((await auth.list()).length, 1_000);
      assert.equal(await auth.read("pre-key-1.json"), undefined);
      assert.equal(text(await auth.read("pre-key-2.json")), '{"k":"two"}');
      assert.equal(text(await auth.read("pre-key-1000.json")), '{"k":1000}');
      assert.deepEqual(await second.store.listAuth(), ["a"]);
    } finally {
      await second.store.close();
    }
  });

  test("remove() deletes a session's auth files and record durably; unknown ids are a no-op", async (h) => {
    const first = await h.open();
    await first.store.create(sessionRecord("a"));
    await first.store.create(sessionRecord("b"));
    await first.store.auth(await h.own(id("a"))).write(new Map([["creds.json", bytes("{}")]]));
    await first.store.remove(id("a"));
    await first.store.remove(id("never-existed"));
    await first.store.close();
    const second = await h.open();
    try {
      assert.deepEqual(second.load.sessions.map((r) => r.id), ["b"]);
      assert.deepEqual(await second.store.listAuth(), []);
      assert.equal(await second.store.get(id("a")), undefined);
    } finally {
      await second.store.close();
    }
  });

  test("an invalid stored record is reported on open and never dropped", async (h) => {
    const first = await h.open();
    await first.store.create(sessionRecord("good"));
    await first.store.create(sessionRecord("bad"));
    await first.store.close();
    await h.corrupt(id("bad"));
    const second = await h.open();
    try {
      assert.deepEqual(second.load.sessions.map((r) => r.id), ["good"]);
      assert.deepEqual(second.load.quarantined.map((q) => q.key), ["bad"]);
      assert.match(second.load.quarantined[0].reason, /status/);
      assert.equal(await h.stillStored(id("bad")), true, "kept where an operator can find it");
    } finally {
      await second.store.close();
    }
  });

  test("after a takeover, the old owner's reports and auth writes are refused and change nothing", async (h) => {
    if (!h.takeOver) return; // a single-process store owns every session
    const { store } = await h.open();
    try {
      await store.create(sessionRecord("a", { status: "connected" }));
      const fence = await h.own(id("a"));
      const auth = store.auth(fence);
      await auth.write(new Map([["creds.json", bytes("mine")]]));
      await h.takeOver(id("a"));
      await assert.rejects(store.report(fence, { status: "failed" }), FencedOutError);
      await assert.rejects(auth.write(new Map([["creds.json", bytes("stale")]])), FencedOutError);
      await assert.rejects(
        auth.write(new Map([["pre-key-1.json", bytes("stale")]])),
        FencedOutError,
      );
      await assert.rejects(auth.delete(), FencedOutError);
      assert.equal((await store.get(id("a")))?.status, "connected");
      assert.equal(text(await auth.read("creds.json")), "mine");
      assert.deepEqual(await auth.list(), ["creds.json"]);
    } finally {
      await store.close();
    }
  });
}
