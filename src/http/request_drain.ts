import type { MiddlewareHandler } from "hono";
import { ShuttingDownError } from "../domain/errors.ts";

/**
 * The HTTP side of a drain: while the gateway shuts down it keeps listening, so that a new API
 * request gets a clear 503 `shutting_down` (thrown as `ShuttingDownError`) instead of a refused
 * connection, and the requests already in flight finish before the sessions close.
 *
 * @example
 * ```ts
 * const drain = new RequestDrain();
 * app.use("/api/*", drain.middleware());
 * // on SIGTERM:
 * await drain.begin(); // new requests get 503; resolves once those in flight are done
 * ```
 */
export class RequestDrain {
  #draining = false;
  #inFlight = 0;
  #idle: PromiseWithResolvers<void> | null = null;

  /** Whether the drain has begun. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Refuses requests once the drain has begun; counts the others while they run. */
  middleware(): MiddlewareHandler {
    return async (_c, next) => {
      if (this.#draining) throw new ShuttingDownError();
      this.#inFlight++;
      try {
        await next();
      } finally {
        this.#inFlight--;
        if (this.#inFlight === 0) this.#idle?.resolve();
      }
    };
  }

  /** Begins the drain; resolves once no request that was let in is still being handled. */
  begin(): Promise<void> {
    this.#draining = true;
    if (this.#inFlight === 0) return Promise.resolve();
    this.#idle ??= Promise.withResolvers<void>();
    return this.#idle.promise;
  }
}
