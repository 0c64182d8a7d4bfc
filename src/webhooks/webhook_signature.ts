import { createHmac, timingSafeEqual } from "node:crypto";

/** The header that carries the signature, `sha256=<hex>`. */
export const SIGNATURE_HEADER = "x-webhook-signature";
/** The header that carries the Unix time (seconds) the signature was made at. */
export const TIMESTAMP_HEADER = "x-webhook-timestamp";

/**
 * The signature of one delivery: `sha256=` and the hex HMAC-SHA256, keyed with the webhook's
 * secret, of `<timestamp>.<body>`. Signing the timestamp lets a receiver refuse old replays.
 *
 * @example
 * ```ts
 * signWebhook("my-webhook-secret-123", 1767225600, '{"id":"evt_…"}'); // "sha256=5f1c…"
 * ```
 */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  const hmac = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
  return `sha256=${hmac}`;
}

/** Options of {@linkcode verifyWebhookSignature}. */
export interface VerifyOptions {
  /** How old (or how far in the future) a timestamp may be, in seconds; default 300. */
  toleranceSeconds?: number;
  /** The current Unix time in seconds; default now. */
  now?: number;
}

/**
 * Whether a delivery is authentic: the signature matches the secret, timestamp and exact body
 * bytes, and the timestamp is recent. What a receiver does (see docs/webhooks.md).
 *
 * @example
 * ```ts
 * const ok = verifyWebhookSignature(secret, {
 *   timestamp: req.headers.get("x-webhook-timestamp"),
 *   signature: req.headers.get("x-webhook-signature"),
 *   body: await req.text(),
 * });
 * ```
 */
export function verifyWebhookSignature(
  secret: string,
  delivery: { timestamp: string | null; signature: string | null; body: string },
  options: VerifyOptions = {},
): boolean {
  const timestamp = Number(delivery.timestamp);
  if (!delivery.timestamp || !Number.isInteger(timestamp) || !delivery.signature) return false;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? 300)) return false;
  const expected = new TextEncoder().encode(signWebhook(secret, timestamp, delivery.body));
  const presented = new TextEncoder().encode(delivery.signature);
  return expected.length === presented.length && timingSafeEqual(expected, presented);
}
