/**
 * A test module for `tests/unit/support/test_requirements_test.ts`, run as its own `deno test`:
 * one test needs something missing, one needs something present (probed once for two uses).
 */
import { strict as assert } from "node:assert";
import { defineRequirement, testsRequiring } from "./test_requirements.ts";

let probes = 0;
const horse = defineRequirement({
  name: "a horse",
  hint: "Buy one",
  probe: () => {
    probes++;
    return Promise.resolve({ met: true, value: 7, description: "a bay horse" });
  },
});
const unicorn = defineRequirement<number>({
  name: "a unicorn",
  hint: "Breed one",
  probe: () => Promise.reject(new Error("none in the stable")),
});

const unicornTest = await testsRequiring(unicorn);
unicornTest("rides the unicorn", {}, () => Promise.reject(new Error("ran without a unicorn")));
await testsRequiring(horse);
const horseTest = await testsRequiring(horse);
horseTest("rides the horse", {}, (value) => {
  assert.equal(value, 7);
  assert.equal(probes, 1);
  return Promise.resolve();
});
