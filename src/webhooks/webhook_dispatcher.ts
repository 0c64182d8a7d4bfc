import { type EventBus, eventPayload, type GatewayEvent } from "../domain/events.ts";
import type { SessionId } from "../domain/session_id.ts";
import { wantsEvent, type Webhook } from "../domain/webhook.ts";
import type { NewOutboxEntry, WebhookEndpoint, WebhookOutbox } from "../domain/webhook_outbox.ts";
import type { Logger } from "../logger.ts";
import type { WebhookDeliverer } from "./webhook_deliverer.ts";
import { isNoSpaceError } from "../storage/no_space.ts";

/** Options of {@linkcode WebhookDispatcher}. */
export interface WebhookDispatcherOptions {
  events: EventBus;
  outbox: WebhookOutbox;
  deliverer: WebhookDeliverer;
  logger: Logger;
  /** The webhook configured in the environment, if any. */
  global?: Webhook;
  /** A session's own webhooks (none for an unknown session). */
  sessionWebhooks: (sessionId: SessionId) => readonly Webhook[];
  clock?: () => Date;
}

/**
 * Turns events into webhook deliveries: for each event on the bus, one outbox entry per endpoint
 * that wants it (the global webhook, then the session's own), appended to the outbox and handed
 * to the deliverer once durable. The bus listener only starts the append and returns: publishers
 * (Baileys' event handlers among them) never wait for a disk or a receiver.
 *
 * @example
 * ```ts
 * const dispatcher = new WebhookDispatcher({ events, outbox, deliverer, logger,
 *   global: config.webhooks.global, sessionWebhooks: (id) => manager.webhooksOf(id) });
 * dispatcher.start();
 * await dispatcher.stop(); // unsubscribes and waits for the appends it started
 * ```
 */
export class WebhookDispatcher {
  readonly #options: WebhookDispatcherOptions;
  readonly #clock: () => Date;
  readonly #appending = new Set<Promise<void>>();
  #unsubscribe?: () => void;

  constructor(options: WebhookDispatcherOptions) {
    this.#options = options;
    this.#clock = options.clock ?? (() => new Date());
  }

  /** Subscribes to the bus. */
  start(): void {
    this.#unsubscribe ??= this.#options.events.subscribe((event) => this.#dispatch(event));
  }

  /** Unsubscribes, and resolves once every append already started is durable (or failed). */
  async stop(): Promise<void> {
    this.#unsubscribe?.();
    await Promise.allSettled([...this.#appending]);
  }

  #dispatch(event: GatewayEvent): void {
    const endpoints = this.#endpointsFor(event);
    if (endpoints.length === 0) return;
    const body = JSON.stringify(eventPayload(event));
    const createdAt = this.#clock().toISOString();
    const entries: NewOutboxEntry[] = endpoints.map((endpoint) => ({
      id: `dlv_${crypto.randomUUID()}`,
      eventId: event.id,
      eventType: event.type,
      sessionId: event.sessionId,
      endpoint,
      body,
      createdAt,
    }));
    const appending = this.#options.outbox.append(entries).then(
      (added) => this.#options.deliverer.enqueue(added),
      (error) => {
        // Still in the outbox's memory: the next successful write or a restart delivers it. A
        // full disk is logged once by the store, not once per event.
        this.#options.logger[isNoSpaceError(error) ? "debug" : "error"](
          { err: error, eventId: event.id, eventType: event.type },
          "could not make a webhook event durable; it is delivered after the next restart",
        );
      },
    );
    this.#appending.add(appending);
    appending.finally(() => this.#appending.delete(appending));
  }

  #endpointsFor(event: GatewayEvent): WebhookEndpoint[] {
    const endpoints: WebhookEndpoint[] = [];
    const global = this.#options.global;
    if (global && wantsEvent(global, event.type)) {
      endpoints.push({ scope: "global", url: global.url, secret: global.secret });
    }
    for (const hook of this.#options.sessionWebhooks(event.sessionId)) {
      if (wantsEvent(hook, event.type)) {
        endpoints.push({ scope: "session", url: hook.url, secret: hook.secret });
      }
    }
    return endpoints;
  }
}
