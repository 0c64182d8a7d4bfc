import { z } from "zod";
import { hostMatchesAny } from "../lib/host_patterns.ts";

/** Every event type the gateway publishes, and so every type a webhook or stream may ask for. */
export const EVENT_TYPES = [
  "session.status",
  "session.qr",
  "session.deleted",
  "message.received",
  "message.sent",
  "message.status",
  "message.edited",
  "message.deleted",
  "poll.vote",
  "group.updated",
  "group.participants",
  "presence.update",
] as const;

export const EventTypeSchema = z.enum(EVENT_TYPES);

/** Shortest webhook secret accepted: the receiver's only proof that a call came from us. */
export const MIN_WEBHOOK_SECRET_LENGTH = 16;

/** What a webhook's secret looks like in every API response and event. */
export const MASKED_SECRET = "********";

/** How many webhooks one session may have. */
export const MAX_SESSION_WEBHOOKS = 10;

/** An http(s) URL without credentials in it (they would end up in logs). */
export const WebhookUrlSchema = z
  .url({ protocol: /^https?$/ })
  .max(2048)
  .refine((value) => {
    const url = new URL(value);
    return url.username === "" && url.password === "";
  }, "must not contain a user name or password");

/** A host pattern of `WEBHOOK_ALLOWED_HOSTS`: a host name, or `*.` and a domain for its subdomains. */
export const WEBHOOK_HOST_PATTERN =
  /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

/**
 * Why webhooks may not be sent to `url` under the allow-list `allowedHosts`, or `null` when they
 * may. An empty list allows every host. `*.example.com` allows the subdomains of example.com, not
 * example.com itself; ports are not part of the match.
 *
 * @example
 * ```ts
 * webhookHostProblem("https://hooks.example.com/x", ["*.example.com"]); // null
 * webhookHostProblem("http://169.254.169.254/", ["*.example.com"]); // "host '169.254.169.254' ..."
 * ```
 */
export function webhookHostProblem(url: string, allowedHosts: readonly string[]): string | null {
  if (allowedHosts.length === 0) return null;
  const host = new URL(url).hostname.toLowerCase();
  return hostMatchesAny(host, allowedHosts)
    ? null
    : `host '${host}' is not in WEBHOOK_ALLOWED_HOSTS`;
}

/** A webhook endpoint: where to POST, which events, and the key that signs each delivery. */
export const WebhookSchema = z.object({
  url: WebhookUrlSchema,
  /** The event types sent to it; empty means every type. */
  events: z.array(EventTypeSchema).max(EVENT_TYPES.length).default([]),
  secret: z.string().min(MIN_WEBHOOK_SECRET_LENGTH).max(256),
});
export type Webhook = z.infer<typeof WebhookSchema>;

/** A session's webhooks, as kept in its metadata. URLs are unique within a session. */
export const SessionWebhooksSchema = z
  .array(WebhookSchema)
  .max(MAX_SESSION_WEBHOOKS)
  .refine(
    (hooks) => new Set(hooks.map((hook) => hook.url)).size === hooks.length,
    "each webhook URL may appear once",
  );

/** A webhook as the API shows it: the secret masked. */
export type MaskedWebhook = Omit<Webhook, "secret"> & { secret: typeof MASKED_SECRET };

/**
 * A webhook with its secret replaced by `MASKED_SECRET`, for API responses and events.
 *
 * @example
 * ```ts
 * maskWebhook({ url, events: [], secret: "s3cret-s3cret-s3cret" }).secret; // "********"
 * ```
 */
export function maskWebhook(webhook: Webhook): MaskedWebhook {
  return { url: webhook.url, events: [...webhook.events], secret: MASKED_SECRET };
}

/**
 * Whether a webhook wants events of `type` (an empty list means all).
 *
 * @example
 * ```ts
 * wantsEvent({ events: ["message.received"] }, "session.qr"); // false
 * ```
 */
export function wantsEvent(webhook: Pick<Webhook, "events">, type: string): boolean {
  return webhook.events.length === 0 || (webhook.events as readonly string[]).includes(type);
}
