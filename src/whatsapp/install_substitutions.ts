/**
 * Applies the runtime substitutions in a thread that runs Baileys, before its first socket: see
 * docs/architecture.md, "Runtime substitutions". Each is guarded and reports its status.
 */
import { installNativeCurve } from "./native_curve/curve_substitution.ts";
import type { VerificationCounters } from "./native_curve/verification_counters.ts";
import type { ThreadSubstitutions } from "./substitution_status.ts";
import { installTimerTraces } from "./timer_traces.ts";

/**
 * Installs every substitution in this thread (each once) and returns their statuses.
 *
 * @example
 * ```ts
 * logSubstitutions(logger, [await installSubstitutions(new VerificationCounters())]);
 * ```
 */
export async function installSubstitutions(
  verificationCounters: VerificationCounters,
): Promise<ThreadSubstitutions> {
  return {
    nativeCurve: installNativeCurve(verificationCounters),
    timerTraces: await installTimerTraces(),
  };
}
