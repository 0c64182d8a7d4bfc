/**
 * The real connection worker, plus two ways to make it die as a bug in Baileys would: a number
 * check for `CRASH_NUMBER` throws an uncaught error in the worker, one for `REJECT_NUMBER` leaves
 * a promise rejection unhandled.
 */
/// <reference lib="deno.worker" />
import "../../src/whatsapp/worker_pool/connection_worker.ts";
import type { ToWorker } from "../../src/whatsapp/worker_pool/protocol.ts";

export const CRASH_NUMBER = "99999999999";
export const REJECT_NUMBER = "99999999998";

const handle = self.onmessage as (event: MessageEvent<ToWorker>) => unknown;
self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === "call" && message.method === "checkNumbers") {
    if (message.args[0][0] === CRASH_NUMBER) {
      setTimeout(() => {
        throw new Error("connection worker crashed on purpose");
      });
      return;
    }
    if (message.args[0][0] === REJECT_NUMBER) {
      Promise.reject(new Error("connection worker rejected on purpose"));
      return;
    }
  }
  return handle(event);
};
