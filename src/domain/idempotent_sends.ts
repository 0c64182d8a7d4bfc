import { createHash } from "node:crypto";
import {
  IdempotencyKeyInFlightError,
  IdempotencyKeyReusedError,
  SessionStateError,
  ShuttingDownError,
  ValidationError,
} from "./errors.ts";
import type { Fence } from "./fence.ts";
import type { IdempotencyRecords, IdempotentResponse } from "./message_store.ts";
import type { SessionId } from "./session_id.ts";

/** How long an `Idempotency-Key` is remembered. */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1000;

/** Options of {@linkcode IdempotentSends}. */
export interface IdempotentSendsOptions {
  records: IdempotencyRecords;
  fenceOf: (sessionId: SessionId) => Fence;
  clock?: () => Date;
  /** Default: `3EB0` and 18 random hex digits, the shape of Baileys' own ids. */
  newMessageId?: () => string;
  expiresAfterMs?: number;
}

/** The result of an idempotent send: the response, and whether it was replayed from the record. */
export interface IdempotentOutcome {
  response: IdempotentResponse;
  replayed: boolean;
}

/**
 * Sends with an `Idempotency-Key` (the IETF httpapi draft): the key, the request's hash and the
 * message id are durable before the message goes out, so that
 * - the same key with the same request answers the first response, and WhatsApp gets the
 *   message once: a send cut short by a crash is sent again with the recorded id, which
 *   WhatsApp clients deduplicate;
 * - the same key with another request is refused (`IdempotencyKeyReusedError`, 422);
 * - the same key while the first request is still running is refused
 *   (`IdempotencyKeyInFlightError`, 409);
 * - a key is forgotten after 24 h, or at once when the send failed before reaching WhatsApp.
 *
 * With several nodes this holds across them because every claim carries the session owner's
 * fence: only the node holding the session's lease can claim a key (the others forward the
 * request to it, or their claim is refused with `FencedOutError`), so that node's own memory of
 * what it is running is the whole truth about "in flight", and the claim itself is one atomic
 * statement in the shared store. A node that took the session over finds the previous owner's
 * unfinished record and sends again under the recorded id (the old owner's socket is closed and
 * its late `complete` is refused), tested in `tests/integration/postgres/postgres_idempotent_sends_test.ts`.
 *
 * @example
 * ```ts
 * const sends = new IdempotentSends({ records: store.idempotency, fenceOf });
 * const { response } = await sends.send(sessionId, key, body, (messageId) => send(messageId));
 * ```
 */
export class IdempotentSends {
  readonly #records: IdempotencyRecords;
  readonly #fenceOf: (sessionId: SessionId) => Fence;
  readonly #clock: () => Date;
  readonly #newMessageId: () => string;
  readonly #expiresAfterMs: number;
  /** Keys whose request this process is running now (only the owner runs a session's sends). */
  readonly #inFlight = new Set<string>();

  constructor(options: IdempotentSendsOptions) {
    this.#records = options.records;
    this.#fenceOf = options.fenceOf;
    this.#clock = options.clock ?? (() => new Date());
    this.#newMessageId = options.newMessageId ?? newMessageId;
    this.#expiresAfterMs = options.expiresAfterMs ?? IDEMPOTENCY_KEY_TTL_MS;
  }

  /**
   * Runs `send` once per key and request. `send` gets the message id to use, and whether an
   * earlier attempt with it was cut short (it may have reached WhatsApp).
   */
  async send(
    sessionId: SessionId,
    key: string,
    request: unknown,
    send: (messageId: string, resumed: boolean) => Promise<IdempotentResponse>,
  ): Promise<IdempotentOutcome> {
    const slot = `${sessionId}\u0000${key}`;
    if (this.#inFlight.has(slot)) {
      throw new IdempotencyKeyInFlightError(
        "A request with this Idempotency-Key is still being processed; retry later",
      );
    }
    this.#inFlight.add(slot);
    try {
      const fence = this.#fenceOf(sessionId);
      const requestHash = hashRequest(request);
      let messageId = this.#newMessageId();
      const existing = await this.#records.claim(fence, {
        key,
        requestHash,
        messageId,
        createdAt: this.#clock().getTime(),
        expiresAfterMs: this.#expiresAfterMs,
      });
      if (existing && existing.requestHash !== requestHash) {
        throw new IdempotencyKeyReusedError(
          "This Idempotency-Key was used with a different request body",
        );
      }
      if (existing?.response) return { response: existing.response, replayed: true };
      if (existing) messageId = existing.messageId;
      let response: IdempotentResponse;
      try {
        response = await send(messageId, existing !== null);
      } catch (error) {
        // Refused before anything went out: the key may be used again. Anything else may have
        // reached WhatsApp, so a retry sends again with the same id.
        if (neverSent(error)) await this.#records.release(fence, key);
        throw error;
      }
      await this.#records.complete(fence, key, response);
      return { response, replayed: existing !== null };
    } finally {
      this.#inFlight.delete(slot);
    }
  }
}

function neverSent(error: unknown): boolean {
  return error instanceof SessionStateError || error instanceof ValidationError ||
    error instanceof ShuttingDownError;
}

/**
 * SHA-256 (hex) of a request body as canonical JSON (keys sorted), so that the same body with
 * its keys in another order is the same request.
 *
 * @example
 * ```ts
 * hashRequest({ a: 1, b: 2 }) === hashRequest({ b: 2, a: 1 }); // true
 * ```
 */
export function hashRequest(request: unknown): string {
  return createHash("sha256").update(canonicalJson(request)).digest("hex");
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** A new WhatsApp message id: `3EB0` and 18 random upper-case hex digits. */
export function newMessageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return `3EB0${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("").toUpperCase()}`;
}
