/**
 * The opaque cursors of the message store's listings, for every implementation: base64url JSON
 * of the position past a page, checked with the listing's schema and bound to its chat (`""` for
 * the chat list), so a cursor of another listing is a `ValidationError`.
 */
import { Buffer } from "node:buffer";
import type { z } from "zod";
import { ValidationError } from "../../domain/errors.ts";

/**
 * A cursor's text.
 *
 * @example
 * ```ts
 * encodePageCursor({ dir: "older", t: 1, id: "A1", chat: "" });
 * ```
 */
export function encodePageCursor(cursor: { chat: string }): string {
  return Buffer.from(JSON.stringify(cursor)).toString("base64url");
}

/**
 * The position a cursor's text holds, if it is a cursor of `chat`'s listing.
 *
 * @example
 * ```ts
 * const from = decodePageCursor(request.cursor, CursorSchema, chat);
 * ```
 */
export function decodePageCursor<T extends { chat: string }>(
  value: string,
  schema: z.ZodType<T>,
  chat: string,
): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, "base64url").toString("utf8"));
  } catch {
    parsed = undefined;
  }
  const cursor = schema.safeParse(parsed);
  if (!cursor.success || cursor.data.chat !== chat) {
    throw new ValidationError("cursor: not a cursor of this listing");
  }
  return cursor.data;
}
