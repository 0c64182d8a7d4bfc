import { z } from "@hono/zod-openapi";
import { ErrorSchema } from "./schemas.ts";

/**
 * The `Idempotency-Key` request header (IETF httpapi draft): a Structured Field string, so
 * `"order-1234"` with its quotes; the bare `order-1234` many clients send is accepted too.
 * 1-255 printable ASCII characters.
 */
export const IdempotencyHeadersSchema = z.object({
  "idempotency-key": z
    .string()
    .transform((value) => value.trim().replace(/^"(.*)"$/, "$1"))
    .pipe(
      z.string().regex(
        /^[\x21\x23-\x5b\x5d-\x7e]{1,255}$/,
        "must be 1-255 printable ASCII characters without spaces, quotes or backslashes",
      ),
    )
    .optional()
    .openapi({
      param: { name: "idempotency-key", in: "header" },
      description: "Makes the send safe to retry: the same key with the same body answers the " +
        "first response and WhatsApp gets the message once, also across a crash of the " +
        "gateway; the same key with another body is 422; while the first request runs, 409. " +
        "Keys are kept 24 hours, per session.",
      example: '"order-1234"',
    }),
});

/** The error responses a request with an `Idempotency-Key` can add. */
export const idempotencyErrorResponses = {
  422: {
    description: "The Idempotency-Key was used with another body",
    content: { "application/json": { schema: ErrorSchema } },
  },
} as const;
