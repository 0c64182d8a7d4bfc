import assert from "node:assert/strict";
import { errorMessage } from "../../../src/lib/error_message.ts";
import { withTimeout } from "../../../src/lib/timeout.ts";

Deno.test("withTimeout() settles with the promise when it is first, and clears its timer", async () => {
  // The sanitizers fail this test if the timer is left behind.
  assert.equal(await withTimeout(Promise.resolve("done"), 60_000, () => "late"), "done");
  await assert.rejects(() => withTimeout(Promise.reject(new Error("no")), 60_000, () => 0), /no/);
});

Deno.test("withTimeout() settles with the fallback once the time passes first", async () => {
  const never = new Promise<string>(() => {});
  assert.equal(await withTimeout(never, 10, () => "pending"), "pending");
  await assert.rejects(
    () =>
      withTimeout(never, 10, () => {
        throw new Error("gave up");
      }),
    /gave up/,
  );
});

Deno.test("errorMessage() reads an error's message, or the thrown value", () => {
  assert.equal(errorMessage(new TypeError("refused")), "refused");
  assert.equal(errorMessage({ message: "boom" }), "boom");
  assert.equal(errorMessage("plain"), "plain");
  assert.equal(errorMessage(undefined), "undefined");
});
