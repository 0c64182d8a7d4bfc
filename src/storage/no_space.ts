import { InsufficientStorageError } from "../domain/errors.ts";

/** OS error codes that mean "the disk (or the user's quota) is full". */
const NO_SPACE_CODES = new Set(["ENOSPC", "EDQUOT"]);

/**
 * Whether `error` says the disk has no space left: an OS error (`ENOSPC`, `EDQUOT`), or the
 * gateway's own `InsufficientStorageError` (also when it came from a worker thread).
 *
 * @example
 * ```ts
 * try { await Deno.writeFile(path, data); } catch (error) { if (isNoSpaceError(error)) … }
 * ```
 */
export function isNoSpaceError(error: unknown): boolean {
  if (error instanceof InsufficientStorageError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && (NO_SPACE_CODES.has(code) || code === "insufficient_storage");
}

/**
 * The typed error for a write that failed for lack of space, keeping the OS error as its cause.
 *
 * @example
 * ```ts
 * throw noSpaceError(error, "Saving the session");
 * ```
 */
export function noSpaceError(error: unknown, what: string): InsufficientStorageError {
  if (error instanceof InsufficientStorageError) return error;
  return new InsufficientStorageError(
    `${what} failed: the disk holding the data directory is full. Free some space; the ` +
      "gateway retries by itself and reports when writes succeed again",
    { cause: error },
  );
}
