/**
 * The contract of `MessageStore` (`src/domain/message_store.ts`) as one test suite, run by every
 * implementation's test file: the file store's and the PostgreSQL store's.
 */
import { strict as assert } from "node:assert";
import { FencedOutError } from "../../src/domain/errors.ts";
import type { Fence } from "../../src/domain/fence.ts";
import type {
  MessageRetention,
  MessageStore,
  NewIdempotencyRecord,
  StoredMessage,
} from "../../src/domain/message_store.ts";
import type { SessionId } from "../../src/domain/session_id.ts";
import type { BackendTest } from "./lease_lock_contract.ts";

/** What a store implementation gives the contract, on fresh storage for each test. */
export interface MessageStoreHarness {
  /** A new, unopened store on this harness's storage (the same data each call). */
  create(options: { retention: MessageRetention; clock?: () => Date }): MessageStore;
  /** A fence of `sessionId` that the store must refuse (a superseded lease); none if it has no leases. */
  staleFence?(sessionId: SessionId): Promise<Fence>;
}

const DAY = 86_400_000;
const retention: MessageRetention = { maxAgeMs: 14 * DAY, maxBytesPerSession: 1024 * 1024 };
const fence = (sessionId: string, epoch = 1): Fence => ({
  sessionId: sessionId as SessionId,
  epoch,
});
const S1 = "shop-1" as SessionId;
const S2 = "shop-2" as SessionId;
const CHAT = "15550009999@s.whatsapp.net";
const T0 = Date.UTC(2030, 0, 1);

/** A received (or, with `fromMe`, sent) text message of `CHAT`. */
export function storedText(
  id: string,
  timestamp: number,
  options: { chat?: string; fromMe?: boolean; bytes?: number } = {},
): StoredMessage {
  const chat = options.chat ?? CHAT;
  const fromMe = options.fromMe ?? false;
  return {
    id,
    key: { remoteJid: chat, fromMe, id },
    chat,
    sender: fromMe ? "15550001111@s.whatsapp.net" : chat,
    fromMe,
    pushName: fromMe ? null : "Bob",
    timestamp,
    status: fromMe ? "sent" : null,
    read: fromMe,
    type: "text",
    text: `text of ${id}`,
    content: new TextEncoder().encode(`content of ${id}`.padEnd(options.bytes ?? 0, ".")),
    editedAt: null,
    deletedAt: null,
  };
}

/** A new idempotency record of `key` (its request hash `h`), created at `T0` for a day. */
export function keyRecord(key: string, overrides: Partial<NewIdempotencyRecord> = {}) {
  return {
    key,
    requestHash: "h",
    messageId: "m",
    createdAt: T0,
    expiresAfterMs: DAY,
    ...overrides,
  };
}

/** Registers the contract's tests through `test`, which gives each one fresh storage. */
export function messageStoreContract(test: BackendTest<MessageStoreHarness>): void {
  const opened = async (harness: MessageStoreHarness, clock?: () => Date, r = retention) => {
    const store = harness.create({ retention: r, clock });
    await store.open();
    return store;
  };
  const now = () => new Date(T0 + DAY);

  test("a put is durable once it resolves, content bytes and all", async (harness) => {
    const first = await opened(harness, now);
    const message = storedText("A1", T0);
    await first.put(fence("shop-1"), [message]);
    assert.deepEqual(await first.get(S1, "A1"), message);
    // A second instance on the same storage, without closing the first: as after a crash.
    const second = harness.create({ retention, clock: now });
    assert.deepEqual((await second.open()).sessionIds, [S1]);
    assert.deepEqual(await second.get(S1, "A1"), message);
    assert.equal(await second.get(S2, "A1"), undefined, "sessions are separate");
    await first.close();
    await second.close();
  });

  test("put replaces by id; patch changes only the fields it names", async (harness) => {
    const store = await opened(harness, now);
    await store.put(fence("shop-1"), [storedText("A1", T0, { fromMe: true })]);
    await store.put(fence("shop-1"), [{
      ...storedText("A1", T0, { fromMe: true }),
      pushName: "x",
    }]);
    await store.patch(fence("shop-1"), [{ id: "A1", status: "read" }, { id: "nope", read: true }]);
    const edited = new TextEncoder().encode("edited");
    await store.patch(fence("shop-1"), [{ id: "A1", content: edited, editedAt: T0 + 5 }]);
    const got = await store.get(S1, "A1");
    assert.equal(got?.status, "read");
    assert.equal(got?.pushName, "x");
    assert.deepEqual(got?.content, edited);
    assert.equal(got?.editedAt, T0 + 5);
    assert.equal(await store.get(S1, "nope"), undefined);
    await store.close();
    const reopened = await opened(harness, now);
    assert.deepEqual(await reopened.get(S1, "A1"), got);
    await reopened.close();
  });

  test("history is newest first, paged by cursor, and starts past before/after", async (harness) => {
    const store = await opened(harness, now);
    const messages = Array.from({ length: 7 }, (_, i) => storedText(`M${i}`, T0 + i * 1000));
    await store.put(fence("shop-1"), [...messages, storedText("OTHER", T0, { chat: "x@lid" })]);
    const first = await store.history(S1, CHAT, { limit: 3 });
    assert.deepEqual(first.items.map((m) => m.id), ["M6", "M5", "M4"]);
    const second = await store.history(S1, CHAT, { limit: 3, cursor: first.nextCursor! });
    assert.deepEqual(second.items.map((m) => m.id), ["M3", "M2", "M1"]);
    const last = await store.history(S1, CHAT, { limit: 3, cursor: second.nextCursor! });
    assert.deepEqual(last.items.map((m) => m.id), ["M0"]);
    assert.equal(last.nextCursor, null);
    const before = await store.history(S1, CHAT, { limit: 2, before: "M3" });
    assert.deepEqual(before.items.map((m) => m.id), ["M2", "M1"]);
    const after = await store.history(S1, CHAT, { limit: 2, after: "M3" });
    assert.deepEqual(after.items.map((m) => m.id), ["M5", "M4"]);
    const newer = await store.history(S1, CHAT, { limit: 2, cursor: after.nextCursor! });
    assert.deepEqual(newer.items.map((m) => m.id), ["M6"]);
    await assert.rejects(() => store.history(S1, CHAT, { limit: 2, before: "OTHER" }));
    await assert.rejects(() => store.history(S1, "x@lid", { limit: 2, cursor: first.nextCursor! }));
    await store.close();
  });

  test("chats: most recent first with their last message and unread count; markRead", async (harness) => {
    const store = await opened(harness, now);
    await store.put(fence("shop-1"), [
      storedText("A1", T0, { chat: "a@s.whatsapp.net" }),
      storedText("A2", T0 + 3, { chat: "a@s.whatsapp.net" }),
      storedText("B1", T0 + 2, { chat: "b@s.whatsapp.net" }),
      storedText("C1", T0 + 1, { chat: "c@s.whatsapp.net", fromMe: true }),
    ]);
    const first = await store.chats(S1, { limit: 2 });
    assert.deepEqual(
      first.items.map((c) => [c.jid, c.lastMessage.id, c.unreadCount]),
      [["a@s.whatsapp.net", "A2", 2], ["b@s.whatsapp.net", "B1", 1]],
    );
    const second = await store.chats(S1, { limit: 2, cursor: first.nextCursor! });
    assert.deepEqual(second.items.map((c) => [c.jid, c.unreadCount]), [["c@s.whatsapp.net", 0]]);
    assert.equal(second.nextCursor, null);
    assert.equal(await store.markRead(fence("shop-1"), "a@s.whatsapp.net", ["A1"]), 1);
    assert.equal(await store.markRead(fence("shop-1"), "b@s.whatsapp.net"), 1);
    const after = await store.chats(S1, { limit: 10 });
    assert.deepEqual(after.items.map((c) => c.unreadCount), [1, 0, 0]);
    assert.deepEqual((await store.chats("nobody" as SessionId, { limit: 10 })).items, []);
    await store.close();
  });

  test("retention: prune drops messages past the age; the size cap drops the earliest stored", async (harness) => {
    let clock = new Date(T0);
    const small = { maxAgeMs: 2 * DAY, maxBytesPerSession: 4_000 };
    const store = await opened(harness, () => clock, small);
    await store.put(fence("shop-1"), [storedText("OLD", T0), storedText("NEW", T0 + 2 * DAY)]);
    clock = new Date(T0 + 3 * DAY);
    assert.equal(await store.prune(clock), 1);
    assert.equal(await store.get(S1, "OLD"), undefined);
    assert.ok(await store.get(S1, "NEW"));
    for (let i = 0; i < 10; i++) {
      await store.put(fence("shop-1"), [storedText(`BIG${i}`, T0 + 3 * DAY, { bytes: 1000 })]);
    }
    assert.equal(await store.get(S1, "NEW"), undefined, "the earliest stored went first");
    assert.equal(await store.get(S1, "BIG0"), undefined);
    assert.ok(await store.get(S1, "BIG9"));
    const kept = await store.history(S1, CHAT, { limit: 100 });
    const bytes = kept.items.reduce((sum, m) => sum + m.content.byteLength, 0);
    assert.ok(bytes <= small.maxBytesPerSession, `${bytes} bytes kept`);
    await store.close();
    // What was dropped stays dropped after a reopen.
    const reopened = await opened(harness, () => clock, small);
    assert.equal(await reopened.get(S1, "OLD"), undefined);
    assert.equal(await reopened.get(S1, "BIG0"), undefined);
    await reopened.close();
  });

  test("idempotency: claim once, replay the record, release, expire; durable", async (harness) => {
    const store = await opened(harness, () => new Date(T0));
    const record = {
      key: "order-1",
      requestHash: "h1",
      messageId: "3EB0AAAA",
      createdAt: T0,
      expiresAfterMs: DAY,
    };
    assert.equal(await store.idempotency.claim(fence("shop-1"), record), null);
    assert.deepEqual(
      await store.idempotency.claim(fence("shop-1"), { ...record, messageId: "other" }),
      { ...record, response: null },
    );
    assert.equal(
      await store.idempotency.claim(fence("shop-2"), record),
      null,
      "keys are per session",
    );
    const response = { status: 201, body: { id: "3EB0AAAA" } };
    await store.idempotency.complete(fence("shop-1"), "order-1", response);
    const reopened = await opened(harness, () => new Date(T0));
    assert.deepEqual(
      await reopened.idempotency.claim(fence("shop-1"), { ...record, createdAt: T0 + 1 }),
      { ...record, response },
    );
    // Past its expiry a key counts as new.
    assert.equal(
      await reopened.idempotency.claim(fence("shop-1"), { ...record, createdAt: T0 + DAY }),
      null,
    );
    await reopened.idempotency.release(fence("shop-1"), "order-1");
    assert.equal(
      await reopened.idempotency.claim(fence("shop-1"), { ...record, createdAt: T0 + DAY }),
      null,
    );
    await store.close();
    await reopened.close();
  });

  test("deleteSession removes the session's messages and keys, and only those", async (harness) => {
    const store = await opened(harness, now);
    await store.put(fence("shop-1"), [storedText("A1", T0)]);
    await store.put(fence("shop-2"), [storedText("B1", T0)]);
    const record = keyRecord("k");
    await store.idempotency.claim(fence("shop-1"), record);
    await store.deleteSession(fence("shop-1"));
    assert.equal(await store.get(S1, "A1"), undefined);
    assert.equal(await store.idempotency.claim(fence("shop-1"), record), null);
    await store.close();
    const reopened = await opened(harness, now);
    assert.equal(await reopened.get(S1, "A1"), undefined);
    assert.ok(await reopened.get(S2, "B1"));
    await reopened.close();
  });

  test("writes not awaited apply in call order", async (harness) => {
    const store = await opened(harness, now);
    const sent = storedText("A1", T0, { fromMe: true });
    await Promise.all([
      store.put(fence("shop-1"), [sent]),
      store.patch(fence("shop-1"), [{ id: "A1", status: "read" }]),
      store.put(fence("shop-1"), [storedText("A2", T0)]),
      store.put(fence("shop-1"), [{ ...sent, pushName: "again" }]),
      store.patch(fence("shop-1"), [{ id: "A2", read: true }]),
    ]);
    const dump = await store.dump(S1);
    assert.deepEqual(dump.messages.map((m) => [m.id, m.status, m.read, m.pushName]), [
      ["A2", null, true, "Bob"],
      ["A1", "sent", true, "again"],
    ]);
    await store.close();
  });

  test("dump: every message in store order (a put again moves it last) and every key", async (harness) => {
    const store = await opened(harness, now);
    await store.put(fence("shop-1"), [storedText("A1", T0 + 5), storedText("A2", T0)]);
    await store.put(fence("shop-1"), [storedText("A3", T0 + 1), storedText("A1", T0 + 5)]);
    await store.patch(fence("shop-1"), [{ id: "A2", read: true }]);
    const record = keyRecord("k");
    await store.idempotency.claim(fence("shop-1"), record);
    const dump = await store.dump(S1);
    assert.deepEqual(dump.messages.map((m) => m.id), ["A2", "A3", "A1"]);
    assert.equal(dump.messages[0].read, true);
    assert.deepEqual(dump.idempotency, [{ ...record, response: null }]);
    assert.deepEqual(await store.dump(S2), { messages: [], idempotency: [] });
    await store.close();
  });

  test("a stale fence is refused and changes nothing", async (harness) => {
    if (!harness.staleFence) return; // one process owns every session: nothing can be stale
    const store = await opened(harness, now);
    const kept = storedText("A0", T0);
    await store.put(fence("shop-1"), [kept]);
    const record = keyRecord("k");
    await store.idempotency.claim(fence("shop-1"), record);
    const stale = await harness.staleFence(S1);
    await assert.rejects(() => store.put(stale, [storedText("A1", T0)]), FencedOutError);
    await assert.rejects(() => store.patch(stale, [{ id: "A0", read: true }]), FencedOutError);
    await assert.rejects(() => store.markRead(stale, CHAT), FencedOutError);
    await assert.rejects(
      () => store.idempotency.claim(stale, { ...record, key: "k2" }),
      FencedOutError,
    );
    await assert.rejects(
      () => store.idempotency.complete(stale, "k", { status: 201, body: {} }),
      FencedOutError,
    );
    await assert.rejects(() => store.idempotency.release(stale, "k"), FencedOutError);
    await assert.rejects(() => store.deleteSession(stale), FencedOutError);
    assert.equal(await store.get(S1, "A1"), undefined);
    assert.deepEqual(await store.get(S1, "A0"), kept, "unchanged: not read, not deleted");
    assert.deepEqual((await store.dump(S1)).idempotency, [{ ...record, response: null }]);
    await store.close();
  });
}
