import { strict as assert } from "node:assert";
import { KeyedLock } from "../../src/lib/keyed_lock.ts";

Deno.test("KeyedLock runs work for one key one at a time, in call order", async () => {
  const lock = new KeyedLock();
  const order: string[] = [];
  const slow = lock.run("a", async () => {
    order.push("first:start");
    await new Promise((r) => setTimeout(r, 20));
    order.push("first:end");
  });
  const fast = lock.run("a", () => {
    order.push("second");
    return Promise.resolve();
  });
  await Promise.all([slow, fast]);
  assert.deepEqual(order, ["first:start", "first:end", "second"]);
  assert.equal(lock.size, 0);
});

Deno.test("KeyedLock runs work for different keys concurrently", async () => {
  const lock = new KeyedLock();
  let running = 0;
  let peak = 0;
  const work = () =>
    lock.run(crypto.randomUUID(), async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 10));
      running--;
    });
  await Promise.all([work(), work(), work()]);
  assert.equal(peak, 3);
});

Deno.test("KeyedLock keeps going after a failed call", async () => {
  const lock = new KeyedLock();
  await assert.rejects(lock.run("k", () => Promise.reject(new Error("boom"))));
  assert.equal(await lock.run("k", () => Promise.resolve(7)), 7);
});
