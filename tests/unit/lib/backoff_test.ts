import { strict as assert } from "node:assert";
import { backoffDelay } from "../../../src/lib/backoff.ts";

const options = { initialDelayMs: 1000, maxDelayMs: 8000 };

Deno.test("backoffDelay() doubles the ceiling with each attempt", () => {
  const top = (attempt: number) => backoffDelay(attempt, { ...options, random: () => 0.999999 });
  assert.deepEqual([1, 2, 3, 4].map(top), [1000, 2000, 4000, 8000]);
});

Deno.test("backoffDelay() never exceeds the cap", () => {
  for (let attempt = 1; attempt < 100; attempt++) {
    assert.ok(backoffDelay(attempt, options) <= 8000);
  }
});

Deno.test("backoffDelay() jitters between half and all of the ceiling", () => {
  assert.equal(backoffDelay(3, { ...options, random: () => 0 }), 2000);
  assert.equal(backoffDelay(3, { ...options, random: () => 0.5 }), 3000);
});
