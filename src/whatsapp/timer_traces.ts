/**
 * Baileys formats a stack trace for every query it sends: `promiseTimeout` and
 * `delayCancellable` (Utils/generics.js) run `new Error().stack` eagerly, to attach it to the
 * error of a timeout or a cancel, which rarely happens. Deno formats a trace at several µs a
 * frame (source-mapped call sites): 50-300 µs a trace here, about twenty a login, 2-3 ms of a
 * login's CPU. In threads that run Baileys, `Error.prepareStackTrace` gives those two traces the
 * frames' function names only (cheap: no file positions), and formats every other trace as Deno
 * does: V8's frame format with file URLs.
 */
import { delayCancellable } from "@whiskeysockets/baileys";
import type { SubstitutionStatus } from "./substitution_status.ts";

type CallSite = {
  getFunctionName(): string | null;
  getFileName(): string | undefined | null;
  getScriptNameOrSourceURL?(): string | undefined | null;
  toString(): string;
};

/** The frames whose traces are only debug data: Baileys' query timers. */
const TIMER_FUNCTIONS = new Set(["promiseTimeout", "delayCancellable"]);
const BAILEYS_GENERICS = /[/\\]@whiskeysockets[/\\]baileys[/\\]lib[/\\]Utils[/\\]generics\.js$/;
/** Marks a names-only trace, so that a reader knows positions were left out on purpose. */
export const NAMES_ONLY_MARK = " (names only; see src/whatsapp/timer_traces.ts)";

let installed: SubstitutionStatus | undefined;

function isBaileysTimer(sites: CallSite[]): boolean {
  const top = sites[0];
  if (!top || !TIMER_FUNCTIONS.has(top.getFunctionName() ?? "")) return false;
  // The script's own name: `getFileName()` applies Baileys' source map, which costs a stat of
  // the missing src/Utils/generics.ts every time.
  return BAILEYS_GENERICS.test(top.getScriptNameOrSourceURL?.() ?? top.getFileName() ?? "");
}

/** One frame as Deno prints it: V8's format, with the module's URL rather than its path. */
function formatFrame(site: CallSite): string {
  const text = String(site);
  const path = site.getFileName();
  const url = site.getScriptNameOrSourceURL?.();
  return path && url && path !== url ? text.replace(path, url) : text;
}

/** The `Error.prepareStackTrace` of threads that run Baileys. */
export function formatStackTrace(error: unknown, sites: CallSite[]): string {
  let header: string;
  try {
    header = Error.prototype.toString.call(error);
  } catch {
    header = "Error";
  }
  try {
    if (isBaileysTimer(sites)) {
      const names = sites.map((site) => site.getFunctionName() ?? "<anonymous>");
      return `${header}${NAMES_ONLY_MARK}\n    at ${names.join("\n    at ")}`;
    }
    return header + sites.map((site) => `\n    at ${formatFrame(site)}`).join("");
  } catch {
    return header; // a trace must never throw
  }
}

/**
 * Installs `formatStackTrace` in this thread (once), unless another `Error.prepareStackTrace` is
 * there, and checks on Baileys' own `delayCancellable` that its traces are the cheap ones.
 *
 * @example
 * ```ts
 * const status = installTimerTraces();
 * ```
 */
export async function installTimerTraces(): Promise<SubstitutionStatus> {
  if (installed) return installed;
  const errorConstructor = Error as { prepareStackTrace?: unknown };
  if (errorConstructor.prepareStackTrace !== undefined) {
    return installed = { active: false, reason: "Error.prepareStackTrace is already set" };
  }
  errorConstructor.prepareStackTrace = formatStackTrace;
  const timer = delayCancellable(60_000);
  timer.cancel();
  const stack = await timer.delay.then(
    () => undefined,
    (error: { data?: { stack?: unknown } }) => error?.data?.stack,
  );
  if (typeof stack !== "string" || !stack.includes(NAMES_ONLY_MARK)) {
    errorConstructor.prepareStackTrace = undefined;
    return installed = {
      active: false,
      reason: "Baileys' delayCancellable no longer formats its trace where expected",
    };
  }
  return installed = { active: true };
}
