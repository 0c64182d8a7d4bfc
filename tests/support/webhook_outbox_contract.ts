/**
 * The contract written on `WebhookOutbox` (`src/domain/webhook_outbox.ts`), as one suite that
 * each implementation's test file runs: durable on resolve, queues handed out in `seq` order, an
 * entry in exactly one of pending or dead letters, and (for an outbox shared by several nodes)
 * one deliverer per queue, with lapsed claims taken over.
 */
import assert from "node:assert/strict";
import {
  type NewOutboxEntry,
  queueKey,
  type WebhookOutbox,
} from "../../src/domain/webhook_outbox.ts";
import type { BackendTest } from "./lease_lock_contract.ts";

/** One backend for the suite. */
export interface OutboxHarness {
  /**
   * Opens an outbox on the backend as `node` (close the previous one first where only one may be
   * open at a time).
   */
  open(node?: string): Promise<WebhookOutbox>;
  /** Whether several nodes can open it at once. */
  shared: boolean;
}

const TTL = 60_000;
const SHORT_TTL = 400;
const ROUND_TTL = 5_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A delivery for tests: `n` numbers it, `sessionId` picks its queue. */
export function outboxEntry(n: number, sessionId = "shop-1"): NewOutboxEntry {
  return {
    id: `dlv_${n}`,
    eventId: `evt_${n}`,
    eventType: "message.received",
    sessionId,
    endpoint: { scope: "global", url: "http://127.0.0.1:1/hook", secret: "s".repeat(16) },
    body: JSON.stringify({ id: `evt_${n}`, n }),
    createdAt: new Date(0).toISOString(),
  };
}

const ids = (entries: { id: string }[]) => entries.map((entry) => entry.id);

/**
 * Registers the `WebhookOutbox` contract.
 *
 * @example
 * ```ts
 * webhookOutboxContract((name, fn) => Deno.test(name, () => withTempDir((dir) => fn(harness(dir)))));
 * ```
 */
export function webhookOutboxContract(test: BackendTest<OutboxHarness>): void {
  test("appended entries get increasing seq and are handed out again after a reopen", async (h) => {
    const first = await h.open();
    const added = await first.append([outboxEntry(1), outboxEntry(2, "shop-2"), outboxEntry(3)]);
    const seqs = added.map((entry) => entry.seq);
    assert.deepEqual([...seqs].sort((a, b) => a - b), seqs);
    assert.equal(new Set(seqs).size, 3);
    await first.append([outboxEntry(4)]);
    await first.remove(["dlv_2", "dlv_unknown"]);
    await first.close();
    const second = await h.open();
    try {
      assert.deepEqual(ids(await second.claim(TTL)), ["dlv_1", "dlv_3", "dlv_4"]);
    } finally {
      await second.close();
    }
  });

  test("concurrent appends keep their call order in seq", async (h) => {
    const outbox = await h.open();
    try {
      const appends = Array.from({ length: 100 }, (_, i) => outboxEntry(i, `s${i % 3}`))
        .map((entry) => outbox.append([entry]));
      const seqs = (await Promise.all(appends)).map(([entry]) => entry.seq);
      assert.deepEqual([...seqs].sort((a, b) => a - b), seqs);
      const claimed = await outbox.claim(TTL);
      assert.deepEqual(ids(claimed), Array.from({ length: 100 }, (_, i) => `dlv_${i}`));
    } finally {
      await outbox.close();
    }
  });

  test("a dead-lettered entry leaves the pending ones durably, and requeue brings it back last", async (h) => {
    const first = await h.open();
    const [one] = await first.append([outboxEntry(1), outboxEntry(2)]);
    const letter = await first.deadLetter(one, { attempts: 10, lastError: "HTTP 500" });
    assert.equal(letter.entry.id, "dlv_1");
    await first.close();
    const second = await h.open();
    try {
      assert.deepEqual(ids(await second.claim(TTL)), ["dlv_2"]);
      const letters = await second.deadLetters();
      assert.deepEqual(letters.map((l) => [l.entry.id, l.attempts, l.lastError]), [
        ["dlv_1", 10, "HTTP 500"],
      ]);
      assert.equal(letters[0].entry.body, outboxEntry(1).body);
      assert.equal(await second.deadLetterCount(), 1);
      const requeued = await second.requeue("dlv_1");
      assert.equal(requeued?.generation, 1);
      assert.equal(await second.requeue("dlv_1"), undefined, "not a dead letter any more");
      const claimed = await second.claim(TTL);
      assert.deepEqual(ids(claimed), ["dlv_2", "dlv_1"], "at the end of its queue");
      assert.deepEqual(await second.deadLetters(), []);
      const [again] = claimed.filter((entry) => entry.id === "dlv_1");
      await second.deadLetter(again, { attempts: 1, lastError: "timeout" });
      assert.equal(await second.discard("dlv_1"), true);
      assert.equal(await second.discard("dlv_1"), false);
      assert.equal(await second.deadLetterCount(), 0);
    } finally {
      await second.close();
    }
  });

  test("failed-attempt counts are kept across a reopen (and by the next node); a requeue starts at 0", async (h) => {
    const first = await h.open("node-a");
    const [one, two] = await first.append([outboxEntry(1), outboxEntry(2, "shop-2")]);
    assert.deepEqual([one.attempts, two.attempts], [0, 0]);
    await first.recordFailedAttempts("dlv_1", 1);
    await first.recordFailedAttempts("dlv_1", 2);
    await first.recordFailedAttempts("dlv_unknown", 5);
    const attemptsOf = (entries: { id: string; attempts: number }[]) =>
      entries.map((entry) => [entry.id, entry.attempts]);
    assert.deepEqual(attemptsOf(await first.claim(TTL)), [["dlv_1", 2], ["dlv_2", 0]]);
    await first.close();
    // After a restart, or on the node that takes the queues over: WEBHOOK_MAX_ATTEMPTS holds.
    const second = await h.open("node-b");
    try {
      const claimed = await second.claim(TTL);
      assert.deepEqual(attemptsOf(claimed), [["dlv_1", 2], ["dlv_2", 0]]);
      assert.equal(claimed[0].body, outboxEntry(1).body, "the sealed fields still open");
      await second.deadLetter(claimed[0], { attempts: 3, lastError: "HTTP 500" });
      const requeued = await second.requeue("dlv_1");
      assert.equal(requeued?.attempts, 0);
      const again = await second.claim(TTL);
      assert.deepEqual(attemptsOf(again), [["dlv_2", 0], ["dlv_1", 0]]);
    } finally {
      await second.close();
    }
  });

  test("claim() hands out each queue's entries in seq order", async (h) => {
    const outbox = await h.open();
    try {
      for (let n = 0; n < 30; n++) await outbox.append([outboxEntry(n, `s${n % 4}`)]);
      const claimed = await outbox.claim(TTL);
      const byQueue = new Map<string, number[]>();
      for (const entry of claimed) {
        byQueue.set(queueKey(entry), [...(byQueue.get(queueKey(entry)) ?? []), entry.seq]);
      }
      assert.equal(byQueue.size, 4);
      for (const seqs of byQueue.values()) assert.deepEqual([...seqs].sort((a, b) => a - b), seqs);
    } finally {
      await outbox.close();
    }
  });

  test("several nodes claiming at once each get a queue no other node gets", async (h) => {
    if (!h.shared) return; // one process holds every queue
    const nodes = await Promise.all(["n1", "n2", "n3"].map((node) => h.open(node)));
    try {
      // Each node's connection made first: a handshake under load must not eat a round's TTL.
      await Promise.all(nodes.map((outbox) => outbox.deadLetterCount()));
      for (let n = 0; n < 60; n++) await nodes[0].append([outboxEntry(n, `s${n % 12}`)]);
      for (let round = 0; round < 2; round++) {
        // Long enough that no claim lapses while the others of its round still run (under load).
        const claimed = await Promise.all(nodes.map((outbox) => outbox.claim(ROUND_TTL)));
        const owners = new Map<string, number>();
        claimed.forEach((entries, index) => {
          for (const key of new Set(entries.map(queueKey))) {
            assert.equal(owners.get(key), undefined, `round ${round}: ${key} given twice`);
            owners.set(key, index);
          }
        });
        assert.equal(owners.size, 12, "every queue is someone's");
        assert.equal(claimed.flat().length, 60, "every entry once");
        await sleep(ROUND_TTL + 200);
      }
    } finally {
      await Promise.all(nodes.map((outbox) => outbox.close()));
    }
  });

  test("a queue whose claim lapsed goes to another node, and its first holder loses it", async (h) => {
    if (!h.shared) return;
    const a = await h.open("node-a");
    const b = await h.open("node-b");
    try {
      await a.append([outboxEntry(1), outboxEntry(2)]);
      assert.deepEqual(ids(await a.claim(SHORT_TTL)), ["dlv_1", "dlv_2"]);
      assert.deepEqual(await b.claim(TTL), [], "held by node-a");
      await sleep(SHORT_TTL + 200); // node-a stopped renewing (frozen, or dead)
      assert.deepEqual(ids(await b.claim(TTL)), ["dlv_1", "dlv_2"]);
      assert.deepEqual(await a.claim(TTL), [], "node-a no longer holds it");
      await b.append([outboxEntry(3)]);
      assert.deepEqual(ids(await b.claim(TTL)), ["dlv_1", "dlv_2", "dlv_3"]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("release() and close() give the queues up to another node at once", async (h) => {
    if (!h.shared) return;
    const a = await h.open("node-a");
    const b = await h.open("node-b");
    try {
      await a.append([outboxEntry(1), outboxEntry(2, "shop-2")]);
      assert.equal((await a.claim(TTL)).length, 2);
      await a.release();
      assert.equal((await b.claim(TTL)).length, 2);
      await b.close();
      assert.equal((await a.claim(TTL)).length, 2);
    } finally {
      await a.close();
      await b.close();
    }
  });
}
