import { GatewayError } from "../domain/errors.ts";

/** Longest auth file name, in UTF-8 bytes; well under the usual 255-byte file name limit. */
export const MAX_AUTH_FILE_NAME_BYTES = 200;

/** An auth file name is not a plain file name the store accepts. */
export class InvalidAuthFileNameError extends GatewayError {
  readonly code = "invalid_auth_file_name";
  constructor(readonly fileName: string, reason: string) {
    super(`Invalid auth file name ${JSON.stringify(fileName.slice(0, 80))}: ${reason}`);
  }
}

// C0 controls (NUL included), DEL and both path separators: matching controls is the point.
// deno-lint-ignore no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f/\\]/;
const encoder = new TextEncoder();

/**
 * Why `name` is not an acceptable auth file name, or `null` when it is. Acceptable names are one
 * path component of 1-200 UTF-8 bytes with no separator or control character, not starting with
 * a dot (which also rules out `.` and `..`, and keeps the store's temporary files apart).
 *
 * @example
 * ```ts
 * authFileNameProblem("pre-key-1.json"); // null
 * authFileNameProblem("../creds.json"); // "must not contain '/', '\\' or control characters"
 * ```
 */
export function authFileNameProblem(name: unknown): string | null {
  if (typeof name !== "string" || name.length === 0) return "must be a non-empty string";
  if (FORBIDDEN.test(name)) return "must not contain '/', '\\' or control characters";
  if (name.startsWith(".")) return "must not start with '.'";
  // A lone surrogate would be written as U+FFFD, so two names could land on one file.
  if (!name.isWellFormed()) return "must be well-formed Unicode";
  if (encoder.encode(name).length > MAX_AUTH_FILE_NAME_BYTES) {
    return `must be at most ${MAX_AUTH_FILE_NAME_BYTES} bytes`;
  }
  return null;
}

/**
 * Throws `InvalidAuthFileNameError` unless `name` is an acceptable auth file name.
 *
 * @example
 * ```ts
 * assertAuthFileName("creds.json"); // ok
 * assertAuthFileName(".."); // throws InvalidAuthFileNameError
 * ```
 */
export function assertAuthFileName(name: string): void {
  const problem = authFileNameProblem(name);
  if (problem !== null) throw new InvalidAuthFileNameError(String(name), problem);
}
