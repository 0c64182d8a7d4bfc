import assert from "node:assert/strict";
import type { SessionId } from "../../../src/domain/session_id.ts";
import {
  type PersistenceWriteKind,
  TimedSessionStore,
} from "../../../src/observability/timed_session_store.ts";
import { FileSessionStore } from "../../../src/persistence/file_session_store.ts";
import { testLogger } from "../../support/logger.ts";
import { sessionRecord } from "../../support/persistence_fixtures.ts";
import { withTempDir } from "../../support/temp_dir.ts";
import { singleOwnerFence } from "../../../src/domain/fence.ts";

const SHOP = "shop-1" as SessionId;

async function withTimedStore(
  fn: (store: TimedSessionStore, writes: [number, PersistenceWriteKind][]) => Promise<void>,
) {
  await withTempDir(async (dataDir) => {
    const writes: [number, PersistenceWriteKind][] = [];
    const store = new TimedSessionStore(
      new FileSessionStore({ dataDir, logger: testLogger() }),
      (ms, kind) => writes.push([ms, kind]),
    );
    await store.open();
    try {
      await fn(store, writes);
    } finally {
      await store.close();
    }
  });
}

Deno.test("TimedSessionStore reports metadata writes as they become durable", async () => {
  await withTimedStore(async (store, writes) => {
    await store.create(sessionRecord("shop-1"));
    await store.remove(SHOP);
    assert.deepEqual(writes.map(([, kind]) => kind), ["metadata", "metadata"]);
    assert.ok(writes.every(([ms]) => ms >= 0));
  });
});

Deno.test("TimedSessionStore reports auth writes and deletions, not reads", async () => {
  await withTimedStore(async (store, writes) => {
    const files = store.auth(singleOwnerFence(SHOP));
    await files.write(new Map([["creds.json", new TextEncoder().encode("{}")]]));
    assert.deepEqual(await files.read("creds.json"), new TextEncoder().encode("{}"));
    assert.deepEqual(await files.list(), ["creds.json"]);
    assert.equal(await files.exists(), true);
    assert.deepEqual(await store.listAuth(), ["shop-1"]);
    await files.delete();
    assert.deepEqual(writes.map(([, kind]) => kind), ["auth", "auth"]);
    assert.equal(
      store.auth(singleOwnerFence(SHOP)),
      files,
      "one AuthFiles per session, like the store's",
    );
  });
});

Deno.test("TimedSessionStore reports a failed write too, and passes its error on", async () => {
  await withTimedStore(async (store, writes) => {
    await assert.rejects(() =>
      store.create({ ...sessionRecord("shop-1"), status: "nope" as "qr" })
    );
    assert.deepEqual(writes.map(([, kind]) => kind), ["metadata"]);
  });
});
