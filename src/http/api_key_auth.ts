import type { MiddlewareHandler } from "hono";
import { UnauthorizedError } from "../domain/errors.ts";

const encoder = new TextEncoder();

/**
 * Requires the API key on every request it guards, as `X-Api-Key: <key>` or
 * `Authorization: Bearer <key>` (when both are sent, `X-Api-Key` is the one checked). Both sides
 * are hashed with SHA-256 and the digests compared without an early exit, so neither the
 * comparison's time nor the key's length tells a caller how close a guess was. A missing or wrong
 * key throws `UnauthorizedError` (401, `WWW-Authenticate: Bearer`).
 *
 * @example
 * ```ts
 * app.use("/api/*", apiKeyAuth(apiKey));
 * ```
 */
export function apiKeyAuth(apiKey: string): MiddlewareHandler {
  const expected = sha256(apiKey);
  return async (c, next) => {
    const presented = presentedKey(c.req.header("x-api-key"), c.req.header("authorization"));
    // Hashed even when absent, so a missing key takes the same path as a wrong one.
    const matches = digestsEqual(await sha256(presented ?? ""), await expected);
    if (presented === undefined || !matches) throw new UnauthorizedError();
    await next();
  };
}

function presentedKey(apiKeyHeader?: string, authorization?: string): string | undefined {
  if (apiKeyHeader !== undefined) return apiKeyHeader.trim();
  const bearer = /^Bearer +(\S+) *$/i.exec(authorization ?? "");
  return bearer?.[1];
}

async function sha256(value: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(value)));
}

/** Compares two digests of equal length, touching every byte whatever the first difference. */
function digestsEqual(a: Uint8Array, b: Uint8Array): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ (b[i] ?? 0);
  return difference === 0;
}
