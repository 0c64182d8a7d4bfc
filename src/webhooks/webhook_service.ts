import type { WebhookSettings } from "../config.ts";
import type { EventBus } from "../domain/events.ts";
import type { SessionId } from "../domain/session_id.ts";
import type { Webhook } from "../domain/webhook.ts";
import type {
  DeadLetter,
  OutboxEntry,
  OutboxLoadReport,
  WebhookOutbox,
} from "../domain/webhook_outbox.ts";
import type { Logger } from "../logger.ts";
import { type DeliveryStats, WebhookDeliverer } from "./webhook_deliverer.ts";
import { WebhookDispatcher } from "./webhook_dispatcher.ts";
import { isNoSpaceError, noSpaceError } from "../storage/no_space.ts";

/** A `catch` handler: a write that failed for lack of space becomes the typed error (507). */
function rethrowNoSpace(what: string): (error: unknown) => never {
  return (error) => {
    throw isNoSpaceError(error) ? noSpaceError(error, what) : error;
  };
}

/** Options of {@linkcode WebhookService.open}. */
export interface WebhookServiceOptions {
  outbox: WebhookOutbox;
  events: EventBus;
  logger: Logger;
  settings: WebhookSettings;
  /** A session's own webhooks, secrets included. */
  sessionWebhooks: (sessionId: SessionId) => readonly Webhook[];
  /** Told the outcome of every delivery attempt (for metrics). */
  onDeliveryAttempt?: (ok: boolean) => void;
  /** How long this node's claim on a delivery queue lasts unless renewed (see the deliverer). */
  claimTtlMs?: number;
}

/**
 * The webhook outlet as one unit: the outbox, the dispatcher that fills it from the event bus,
 * and the deliverer that empties it. Opened after the data directory is locked, closed after the
 * sessions (so that their last events are in the outbox) and before the lock is released.
 *
 * @example
 * ```ts
 * const webhooks = await WebhookService.open({ outbox, events, logger, settings,
 *   sessionWebhooks: (id) => manager.webhooksOf(id) });
 * // …
 * await webhooks.close(5_000);
 * ```
 */
export class WebhookService {
  readonly #outbox: WebhookOutbox;
  readonly #deliverer: WebhookDeliverer;
  readonly #dispatcher: WebhookDispatcher;
  /** What the outbox held at start. */
  readonly loadReport: OutboxLoadReport;
  #deadLetterCount = 0;
  #closing?: Promise<void>;

  private constructor(
    options: WebhookServiceOptions,
    loadReport: OutboxLoadReport,
  ) {
    const { outbox, logger, settings } = options;
    this.#outbox = outbox;
    this.loadReport = loadReport;
    this.#deliverer = new WebhookDeliverer({
      outbox,
      logger,
      timeoutMs: settings.timeoutMs,
      maxAttempts: settings.maxAttempts,
      maxConcurrent: settings.concurrency,
      allowedHosts: settings.allowedHosts,
      onAttempt: options.onDeliveryAttempt,
      onDeadLettered: () => this.#refreshDeadLetterCount(),
      claimTtlMs: options.claimTtlMs,
      backoff: {
        initialDelayMs: settings.retryInitialDelayMs,
        maxDelayMs: settings.retryMaxDelayMs,
      },
    });
    this.#dispatcher = new WebhookDispatcher({
      events: options.events,
      outbox,
      deliverer: this.#deliverer,
      logger,
      global: settings.global,
      sessionWebhooks: options.sessionWebhooks,
    });
  }

  /** Opens the outbox, starts delivering what it holds, and subscribes to the bus. */
  static async open(options: WebhookServiceOptions): Promise<WebhookService> {
    const loadReport = await options.outbox.open();
    const service = new WebhookService(options, loadReport);
    service.#deadLetterCount = await options.outbox.deadLetterCount();
    await service.#deliverer.start();
    service.#dispatcher.start();
    return service;
  }

  /** Delivery counters since start. */
  get stats(): DeliveryStats {
    return this.#deliverer.stats;
  }

  /** Every dead letter, oldest first. */
  async deadLetters(): Promise<DeadLetter[]> {
    const letters = await this.#outbox.deadLetters();
    this.#deadLetterCount = letters.length;
    return letters;
  }

  /**
   * How many dead letters there were when last looked (at start, and after each change): for the
   * metrics gauge, read synchronously.
   */
  get deadLetterCount(): number {
    return this.#deadLetterCount;
  }

  /** Sends a dead letter back for delivery; `undefined` for an unknown id. */
  async retryDeadLetter(id: string): Promise<OutboxEntry | undefined> {
    const entry = await this.#deliverer.retryDeadLetter(id).catch(
      rethrowNoSpace("Retrying the dead letter"),
    );
    this.#refreshDeadLetterCount();
    return entry;
  }

  /** Deletes a dead letter; whether there was one. */
  async discardDeadLetter(id: string): Promise<boolean> {
    const discarded = await this.#outbox.discard(id).catch(
      rethrowNoSpace("Discarding the dead letter"),
    );
    this.#refreshDeadLetterCount();
    return discarded;
  }

  #refreshDeadLetterCount(): void {
    this.#outbox.deadLetterCount().then((count) => this.#deadLetterCount = count, () => {});
  }

  /**
   * Stops taking events, waits for the appends already started, stops delivering (POSTs in
   * flight get `graceMs`), and flushes and closes the outbox. Whatever is undelivered is
   * delivered after the next start.
   */
  close(graceMs?: number): Promise<void> {
    this.#closing ??= (async () => {
      await this.#dispatcher.stop();
      await this.#deliverer.stop(graceMs);
      await this.#outbox.close();
    })();
    return this.#closing;
  }
}
