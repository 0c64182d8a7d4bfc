/**
 * Whether a thread's XEdDSA checks run natively, and the one log line that says so at start. Kept
 * apart from the substitution, which loads Baileys: the main thread logs for its workers.
 */
import type { Logger } from "../../logger.ts";

/** Whether this thread's XEdDSA checks run natively, and why not when they do not. */
export type NativeCurveStatus =
  | { active: true }
  | { active: false; reason: string };

/**
 * Logs, once for every thread that runs connections, whether their signature checks are native:
 * info when all are, a warning with the reasons when some are not (logins then cost ~10 ms more).
 *
 * @example
 * ```ts
 * logNativeCurveStatus(logger, [installNativeCurve(counters)]);
 * ```
 */
export function logNativeCurveStatus(logger: Logger, statuses: NativeCurveStatus[]): void {
  const reasons = [...new Set(statuses.flatMap((status) => status.active ? [] : [status.reason]))];
  if (reasons.length === 0) {
    logger.info(
      { threads: statuses.length },
      "XEdDSA signature checks run on node:crypto's Ed25519 (curve25519-js decides what it refuses)",
    );
  } else {
    logger.warn(
      { threads: statuses.length, native: statuses.filter((s) => s.active).length, reasons },
      "XEdDSA signature checks stay on curve25519-js (pure JavaScript) in some threads",
    );
  }
}
