import {
  GroupNotFoundError,
  ValidationError,
  WhatsAppForbiddenError,
  WhatsAppRequestError,
} from "../../domain/errors.ts";
import { errorMessage } from "../../lib/error_message.ts";

/**
 * WhatsApp's code in an error Baileys threw: an iq's `<error code>` (Boom `data`), else the
 * Boom's own status; `null` for anything else.
 *
 * @example
 * ```ts
 * whatsappCode(new Boom("forbidden", { data: 403 })); // 403
 * ```
 */
export function whatsappCode(error: unknown): number | null {
  const boom = error as { data?: unknown; output?: { statusCode?: unknown }; isBoom?: boolean };
  if (typeof boom?.data === "number") return boom.data;
  if (boom?.isBoom && typeof boom.output?.statusCode === "number") return boom.output.statusCode;
  return null;
}

/**
 * The gateway's error for a refused request: 404 (of a group) → `GroupNotFoundError`, 401/403 →
 * `WhatsAppForbiddenError` with WhatsApp's reason, 400 → `ValidationError`, anything else →
 * `WhatsAppRequestError`. `what` completes "WhatsApp did not …".
 */
export function accountError(error: unknown, what: string, group?: string): Error {
  const code = whatsappCode(error);
  const reason = errorMessage(error);
  if (code === 404 && group) {
    return new GroupNotFoundError(`Group '${group}' does not exist or this account cannot see it`);
  }
  if (code === 401 || code === 403) {
    return new WhatsAppForbiddenError(`WhatsApp refused to ${what}: ${reason} (${code})`);
  }
  if (code === 400) return new ValidationError(`WhatsApp refused to ${what}: ${reason}`);
  return new WhatsAppRequestError(`WhatsApp did not ${what}: ${reason}`, { cause: error });
}

/** Runs a WhatsApp request, turning what Baileys throws into the gateway's errors. */
export async function asked<T>(
  what: string,
  request: () => Promise<T>,
  group?: string,
): Promise<T> {
  try {
    return await request();
  } catch (error) {
    throw accountError(error, what, group);
  }
}
