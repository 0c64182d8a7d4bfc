import {
  SESSION_REPORT_FIELDS,
  SESSION_SPEC_FIELDS,
  type SessionReportChange,
  type SessionSpecChange,
} from "../domain/session_store.ts";

/**
 * Only the spec fields (and `updatedAt`) of a change, so that a spec update can never carry a
 * report field along, whatever the caller passed.
 *
 * @example
 * ```ts
 * pickSpec({ name: "Shop", status: "connected" }); // { name: "Shop" }
 * ```
 */
export function pickSpec(change: SessionSpecChange): SessionSpecChange {
  return pick(change, [...SESSION_SPEC_FIELDS, "updatedAt"]) as SessionSpecChange;
}

/**
 * Only the report fields (and `updatedAt`) of a change.
 *
 * @example
 * ```ts
 * pickReport({ status: "connected", name: "x" }); // { status: "connected" }
 * ```
 */
export function pickReport(change: SessionReportChange): SessionReportChange {
  return pick(change, [...SESSION_REPORT_FIELDS, "updatedAt"]) as SessionReportChange;
}

function pick(source: object, keys: readonly string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const key of keys) {
    if (key in source && (source as Record<string, unknown>)[key] !== undefined) {
      picked[key] = (source as Record<string, unknown>)[key];
    }
  }
  return picked;
}
