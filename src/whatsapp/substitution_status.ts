/**
 * What became of the runtime substitutions in a thread that runs Baileys (see
 * docs/architecture.md, "Runtime substitutions"), and the log lines that say so once at start.
 * Kept apart from the substitutions, which load Baileys: the main thread logs for its workers.
 */
import type { Logger } from "../logger.ts";

/** Whether a substitution applies in a thread, and why not when it does not. */
export type SubstitutionStatus =
  | { active: true }
  | { active: false; reason: string };

/** The substitutions of one thread. */
export interface ThreadSubstitutions {
  /** XEdDSA checks on node:crypto's Ed25519 (`native_curve/`). */
  nativeCurve: SubstitutionStatus;
  /** Names-only traces for Baileys' query timers (`timer_traces.ts`). */
  timerTraces: SubstitutionStatus;
}

const DESCRIPTIONS: Record<keyof ThreadSubstitutions, { on: string; off: string }> = {
  nativeCurve: {
    on:
      "XEdDSA signature checks run on node:crypto's Ed25519 (curve25519-js decides what it refuses)",
    off: "XEdDSA signature checks stay on curve25519-js (pure JavaScript) in some threads",
  },
  timerTraces: {
    on: "Baileys' query timers capture names-only stack traces",
    off: "Baileys' query timers format full stack traces in some threads",
  },
};

/**
 * Logs, once for every thread that runs connections, whether each substitution applies: info
 * when it does everywhere, a warning with the reasons when it does not (logins then cost more).
 *
 * @example
 * ```ts
 * logSubstitutions(logger, [await installSubstitutions(counters)]);
 * ```
 */
export function logSubstitutions(logger: Logger, threads: ThreadSubstitutions[]): void {
  for (const name of Object.keys(DESCRIPTIONS) as (keyof ThreadSubstitutions)[]) {
    const statuses = threads.map((thread) => thread[name]);
    const reasons = [...new Set(statuses.flatMap((s) => s.active ? [] : [s.reason]))];
    if (reasons.length === 0) {
      logger.info({ substitution: name, threads: threads.length }, DESCRIPTIONS[name].on);
    } else {
      const active = statuses.filter((s) => s.active).length;
      logger.warn(
        { substitution: name, threads: threads.length, active, reasons },
        DESCRIPTIONS[name].off,
      );
    }
  }
}
