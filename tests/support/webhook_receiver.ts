/**
 * A real webhook receiver on loopback for tests: records every delivery with its signature
 * checked, answers with a status the test chooses, and can be taken down and brought back on
 * the same port.
 */
import { verifyWebhookSignature } from "../../src/webhooks/webhook_signature.ts";
import { sleepUntilWoken } from "./waiters.ts";

/** One POST the receiver got. */
export interface ReceivedDelivery {
  headers: Record<string, string>;
  body: string;
  /** The parsed body: `{id, type, sessionId, at, data}` (`data` loosely typed, for asserts). */
  // deno-lint-ignore no-explicit-any
  event: { id: string; type: string; sessionId: string; at: string; data: Record<string, any> };
  /** Whether the signature matched the receiver's secret. */
  validSignature: boolean;
  /** The status the receiver answered with. */
  status: number;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  /** Every POST received, answered 2xx or not, in arrival order. */
  received: ReceivedDelivery[];
  /** The deliveries answered 2xx, in arrival order. */
  accepted(): ReceivedDelivery[];
  /** Sets the status answered from now on (default 200). */
  respondWith(status: number): void;
  /**
   * Holds every answer from now on for `ms` after the request arrived (it is recorded at once):
   * deliveries stay in flight. Stopping the receiver answers those held.
   */
  holdAnswers(ms: number): void;
  /** Waits until `count` POSTs have arrived, answered or not. */
  waitForReceived(count: number, timeoutMs?: number): Promise<ReceivedDelivery[]>;
  /** Waits until `predicate` holds for the accepted deliveries. */
  waitFor(
    predicate: (accepted: ReceivedDelivery[]) => boolean,
    timeoutMs?: number,
  ): Promise<ReceivedDelivery[]>;
  /** Stops listening (connections are refused) until `start()`. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): void;
  close(): Promise<void>;
}

/**
 * A gateway's settings for a webhook of `events` (comma-separated) to `receiver`, retried fast
 * and all but forever: for tests that take the receiver down while events queue.
 *
 * @example
 * ```ts
 * const env = patientWebhookEnv(receiver, SECRET, "message.received");
 * ```
 */
export function patientWebhookEnv(
  receiver: WebhookReceiver,
  secret: string,
  events: string,
): Record<string, string> {
  return {
    WEBHOOK_URL: receiver.url,
    WEBHOOK_SECRET: secret,
    WEBHOOK_EVENTS: events,
    WEBHOOK_MAX_ATTEMPTS: "1000",
    WEBHOOK_RETRY_INITIAL_DELAY_MS: "20",
    WEBHOOK_RETRY_MAX_DELAY_MS: "200",
  };
}

/** Starts a receiver on 127.0.0.1 (a random port unless `port` is given). */
export function startWebhookReceiver(
  options: { secret: string; port?: number; path?: string },
): WebhookReceiver {
  const received: ReceivedDelivery[] = [];
  const waiters = new Set<() => void>();
  let status = 200;
  let holdMs = 0;
  const held = new Set<() => void>();
  let server: Deno.HttpServer<Deno.NetAddr> | null = null;
  let port = options.port ?? 0;
  const path = options.path ?? "/hook";

  const listen = () => {
    server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (request) => {
      const body = await request.text();
      const headers = Object.fromEntries(request.headers);
      received.push({
        headers,
        body,
        event: JSON.parse(body),
        validSignature: verifyWebhookSignature(options.secret, {
          timestamp: request.headers.get("x-webhook-timestamp"),
          signature: request.headers.get("x-webhook-signature"),
          body,
        }),
        status,
      });
      for (const wake of waiters) wake();
      const answer = status;
      if (holdMs > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(release, holdMs);
          function release() {
            clearTimeout(timer);
            held.delete(release);
            resolve();
          }
          held.add(release);
        });
      }
      return new Response(answer < 300 ? "ok" : "nope", { status: answer });
    });
    port = server.addr.port;
  };
  listen();

  const accepted = () => received.filter((delivery) => delivery.status < 300);
  const receiver: WebhookReceiver = {
    url: `http://127.0.0.1:${port}${path}`,
    port,
    received,
    accepted,
    respondWith(next) {
      status = next;
    },
    holdAnswers(ms) {
      holdMs = ms;
    },
    async waitForReceived(count, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) {
          throw new Error(`webhook receiver: ${received.length} of ${count} POSTs`);
        }
        await sleepUntilWoken(waiters, Math.min(remaining, 200));
      }
      return received;
    },
    async waitFor(predicate, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(accepted())) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) {
          throw new Error(
            `webhook receiver: condition not met; accepted ${accepted().length} of ` +
              `${received.length}: ${
                received.map((d) => `${d.status} ${d.event.type}`).join(", ")
              }`,
          );
        }
        await sleepUntilWoken(waiters, Math.min(remaining, 200));
      }
      return accepted();
    },
    async stop() {
      const current = server;
      server = null;
      for (const release of [...held]) release();
      await current?.shutdown();
    },
    start() {
      if (!server) listen();
    },
    async close() {
      await receiver.stop();
    },
  };
  return receiver;
}
