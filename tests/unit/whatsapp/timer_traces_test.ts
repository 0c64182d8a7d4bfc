/**
 * The stack-trace formatter of connection threads: Baileys' query-timer traces are names only,
 * every other trace reads exactly as Deno's own formatting would print it.
 */
import { strict as assert } from "node:assert";
import { delayCancellable } from "@whiskeysockets/baileys";
import {
  formatStackTrace,
  installTimerTraces,
  NAMES_ONLY_MARK,
} from "../../../src/whatsapp/timer_traces.ts";

const errorConstructor = Error as { prepareStackTrace?: unknown };

class CustomError extends Error {
  override name = "CustomError";
}
class Thing {
  method(): Error {
    return new TypeError("from a method");
  }
}
async function asyncInner(): Promise<Error> {
  await new Promise((resolve) => setTimeout(resolve, 1));
  return new RangeError("after an await");
}
async function asyncOuter(): Promise<Error> {
  await null;
  return await asyncInner();
}

/** Errors of many shapes, each made at the same source position on every call. */
async function samples(): Promise<{ stack?: string }[]> {
  const plainObject = {} as { stack?: string };
  Error.captureStackTrace(plainObject);
  let parseError: Error | undefined;
  try {
    JSON.parse("{");
  } catch (error) {
    parseError = error as Error;
  }
  return [
    new Error("plain"),
    new Error("two\nlines"),
    new Error(),
    new CustomError("subclass"),
    new Thing().method(),
    [1].map(() => new Error("in a callback"))[0],
    await asyncOuter(),
    (await Promise.all([asyncOuter()]))[0],
    parseError!,
    plainObject,
    new AggregateError([new Error("inner")], "aggregate"),
  ];
}

Deno.test("every trace but Baileys' timers reads as Deno's own formatting prints it", async () => {
  const previous = errorConstructor.prepareStackTrace;
  const stacks: string[][] = [];
  try {
    for (const formatter of [undefined, formatStackTrace]) {
      await null; // both rounds then run below the same (async) frames of the test runner
      errorConstructor.prepareStackTrace = formatter;
      stacks.push((await samples()).map((error) => String(error.stack)));
    }
  } finally {
    errorConstructor.prepareStackTrace = previous;
  }
  const [deno, ours] = stacks;
  assert.ok(deno.some((stack) => stack.includes("file:///")), "the samples have module frames");
  assert.ok(deno.some((stack) => stack.includes("at async ")), "and async frames");
  for (let i = 0; i < deno.length; i++) assert.equal(ours[i], deno[i], `sample ${i}`);
});

Deno.test("Baileys' query timers get names-only traces once installed", async () => {
  assert.deepEqual(await installTimerTraces(), { active: true });
  const timer = delayCancellable(60_000);
  timer.cancel();
  const error = await timer.delay.then(() => undefined, (error) => error);
  const stack = String(error.data.stack);
  assert.ok(stack.startsWith(`Error${NAMES_ONLY_MARK}\n    at delayCancellable`), stack);
  assert.ok(!stack.includes("generics.js"), "no file positions");
  // Errors of the gateway's own code keep their positions.
  assert.match(String(new Error("ours").stack), /timer_traces_test\.ts:\d+:\d+/);
});
