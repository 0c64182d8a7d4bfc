import { ValidationError } from "./errors.ts";
import { MASKED_SECRET, type Webhook, webhookHostProblem } from "./webhook.ts";

/**
 * The webhooks to store: a secret sent back masked keeps the stored secret of the same URL, and
 * every URL must be on the allow-list (`WEBHOOK_ALLOWED_HOSTS`; empty allows any). Throws
 * `ValidationError` naming the offending entry.
 *
 * @example
 * ```ts
 * record.webhooks = webhooksToStore(input.webhooks, record.webhooks ?? [], allowedHosts);
 * ```
 */
export function webhooksToStore(
  wanted: readonly Webhook[],
  current: readonly Webhook[],
  allowedHosts: readonly string[],
): Webhook[] {
  const webhooks = wanted.map((hook, index) => {
    if (hook.secret !== MASKED_SECRET) return { ...hook, events: [...hook.events] };
    const kept = current.find((existing) => existing.url === hook.url);
    if (!kept) {
      throw new ValidationError(
        `webhooks.${index}.secret: '${MASKED_SECRET}' keeps the current secret, ` +
          `but ${hook.url} has none; give the secret`,
      );
    }
    return { ...hook, events: [...hook.events], secret: kept.secret };
  });
  for (const [index, hook] of webhooks.entries()) {
    const problem = webhookHostProblem(hook.url, allowedHosts);
    if (problem) throw new ValidationError(`webhooks.${index}.url: ${problem}`);
  }
  return webhooks;
}
