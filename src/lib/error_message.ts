/**
 * The message of a thrown value: an error's `message`, or the value itself as text (libraries
 * throw strings and plain objects too).
 *
 * @example
 * ```ts
 * errorMessage(new Error("refused")); // "refused"
 * errorMessage("boom"); // "boom"
 * ```
 */
export function errorMessage(error: unknown): string {
  const message = (error as { message?: unknown } | null | undefined)?.message;
  return String(message ?? error);
}
