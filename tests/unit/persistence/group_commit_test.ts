import assert from "node:assert/strict";
import { GroupCommit } from "../../../src/persistence/group_commit.ts";

/** A commit function that blocks until released, recording what state each commit saw. */
function gatedCommit(state: { value: number }) {
  const seen: number[] = [];
  const gates: PromiseWithResolvers<void>[] = [];
  let running = 0;
  let maxRunning = 0;
  const commit = async () => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    seen.push(state.value);
    const gate = Promise.withResolvers<void>();
    gates.push(gate);
    try {
      await gate.promise;
    } finally {
      running--;
    }
  };
  const releaseNext = async () => {
    while (gates.length === 0) await new Promise((r) => setTimeout(r, 1));
    gates.shift()!.resolve();
  };
  return { commit, seen, releaseNext, maxRunning: () => maxRunning };
}

Deno.test("GroupCommit serves the requests of one tick with one commit", async () => {
  let commits = 0;
  const writer = new GroupCommit(() => Promise.resolve(void commits++));
  await Promise.all(Array.from({ length: 100 }, () => writer.request()));
  assert.deepEqual(commits, 1);
  assert.deepEqual(writer.commits, 1);
});

Deno.test("GroupCommit merges requests that arrive during a commit into the next one", async () => {
  const state = { value: 0 };
  const gated = gatedCommit(state);
  const writer = new GroupCommit(gated.commit);
  state.value = 1;
  const first = writer.request();
  await new Promise((r) => setTimeout(r, 5)); // the first commit is now in flight
  const later: Promise<void>[] = [];
  for (let i = 2; i <= 50; i++) {
    state.value = i;
    later.push(writer.request());
  }
  await gated.releaseNext();
  await first;
  await gated.releaseNext();
  await Promise.all(later);
  assert.deepEqual(gated.seen, [1, 50]);
  assert.deepEqual(gated.maxRunning(), 1);
});

Deno.test("GroupCommit resolves a request only after a commit that saw its change", async () => {
  const state = { value: 0 };
  const durable: number[] = [];
  const writer = new GroupCommit(async () => {
    const snapshot = state.value;
    await new Promise((r) => setTimeout(r, 2));
    durable.push(snapshot);
  });
  const checks: Promise<void>[] = [];
  for (let i = 1; i <= 30; i++) {
    state.value = i;
    checks.push(writer.request().then(() => assert.deepEqual(Math.max(...durable) >= i, true)));
    if (i % 7 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(checks);
});

Deno.test("GroupCommit rejects the requests of a failed commit and still runs the next one", async () => {
  let fail = true;
  const writer = new GroupCommit(async () => {
    await new Promise((r) => setTimeout(r, 2));
    if (fail) {
      fail = false;
      throw new Error("disk full");
    }
  });
  const failed = [writer.request(), writer.request()];
  await new Promise((r) => setTimeout(r, 1));
  const next = writer.request();
  for (const request of failed) await assert.rejects(request, /disk full/);
  await next;
  assert.deepEqual(writer.commits, 2);
});

Deno.test("GroupCommit.settled() waits for commits in flight and never rejects", async () => {
  let done = false;
  const writer = new GroupCommit(async () => {
    await new Promise((r) => setTimeout(r, 5));
    done = true;
    throw new Error("boom");
  });
  const request = writer.request().catch(() => {});
  await writer.settled();
  assert.deepEqual(done, true);
  await request;
  await writer.settled(); // idle: resolves at once
});
