import { z } from "zod";

/**
 * A session id: 1–64 characters, letters, digits, `_` and `-`, starting with a letter or digit.
 *
 * The pattern is deliberately conservative: an id names a folder under the data directory, so it
 * must never contain a path separator, a dot segment, NUL or anything a file system might
 * normalise (case folding aside).
 */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Zod schema for a session id, used at every edge (HTTP, disk). */
export const SessionIdSchema = z
  .string()
  .regex(
    SESSION_ID_PATTERN,
    "must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-', starting with a letter or digit",
  )
  .brand<"SessionId">();

/** A validated session id. */
export type SessionId = z.infer<typeof SessionIdSchema>;

/**
 * Returns true when `value` is a valid session id.
 *
 * @example
 * ```ts
 * isSessionId("shop-1"); // true
 * isSessionId("../etc"); // false
 * ```
 */
export function isSessionId(value: unknown): value is SessionId {
  return typeof value === "string" && SESSION_ID_PATTERN.test(value);
}
