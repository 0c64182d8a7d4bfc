import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import {
  DataDirectoryLockedError,
  DeadLetterNotFoundError,
  GatewayError,
  GroupNotFoundError,
  IdempotencyKeyInFlightError,
  IdempotencyKeyReusedError,
  InsufficientStorageError,
  InvalidSessionIdError,
  MediaDownloadError,
  MediaNotFoundError,
  MediaTooLargeError,
  MediaUrlError,
  MessageNotFoundError,
  OwnerUnavailableError,
  PersistenceError,
  QrNotAvailableError,
  SessionAlreadyExistsError,
  SessionNotFoundError,
  SessionStateError,
  ShuttingDownError,
  UnauthorizedError,
  UnsupportedMediaError,
  ValidationError,
  WhatsAppForbiddenError,
  WhatsAppRequestError,
} from "../domain/errors.ts";
import type { Logger } from "../logger.ts";

/** The one JSON shape of every error response. */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** The single place where errors become HTTP statuses. */
export function statusOf(error: GatewayError): ContentfulStatusCode {
  if (
    error instanceof ValidationError || error instanceof InvalidSessionIdError ||
    error instanceof MediaUrlError
  ) return 400;
  if (error instanceof UnauthorizedError) return 401;
  if (error instanceof WhatsAppForbiddenError) return 403;
  if (
    error instanceof SessionNotFoundError || error instanceof DeadLetterNotFoundError ||
    error instanceof MessageNotFoundError || error instanceof MediaNotFoundError ||
    error instanceof GroupNotFoundError
  ) return 404;
  if (error instanceof MediaTooLargeError) return 413;
  if (error instanceof UnsupportedMediaError) return 415;
  if (
    error instanceof SessionAlreadyExistsError ||
    error instanceof SessionStateError ||
    error instanceof QrNotAvailableError ||
    error instanceof IdempotencyKeyInFlightError
  ) return 409;
  if (error instanceof IdempotencyKeyReusedError) return 422;
  if (error instanceof WhatsAppRequestError || error instanceof MediaDownloadError) return 502;
  if (error instanceof ShuttingDownError || error instanceof OwnerUnavailableError) return 503;
  if (error instanceof InsufficientStorageError) return 507;
  if (error instanceof PersistenceError || error instanceof DataDirectoryLockedError) return 500;
  return 500;
}

const HTTP_EXCEPTION_CODES: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  413: "payload_too_large",
  415: "unsupported_media_type",
  429: "too_many_requests",
};

/** Builds the JSON error response for `error`. Unexpected errors are logged and hidden. */
export function errorResponse(error: unknown, c: Context, logger: Logger): Response {
  if (error instanceof GatewayError) {
    const status = statusOf(error);
    // A full disk is logged once when it starts and once when it ends, not per request.
    if (status >= 500 && status !== 507) logger.error({ err: error }, "request failed");
    const details = error instanceof ValidationError ? error.details : undefined;
    if (error instanceof UnauthorizedError) c.header("WWW-Authenticate", "Bearer");
    if (error instanceof OwnerUnavailableError) {
      c.header("Retry-After", String(error.retryAfterSeconds));
    }
    return c.json(body(error.code, error.message, details), status);
  }
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode;
    const code = /malformed json/i.test(error.message)
      ? "malformed_json"
      : HTTP_EXCEPTION_CODES[status] ?? "http_error";
    return c.json(body(code, error.message || code), status);
  }
  logger.error({ err: error }, "unexpected error while handling a request");
  return c.json(body("internal_error", "Internal server error"), 500);
}

/** Turns a zod validation failure into a 400 response listing each problem. */
export function validationErrorResponse(error: ZodError, c: Context): Response {
  const details = error.issues.map((issue) => ({
    path: issue.path.join("."),
    message: issue.message,
  }));
  const summary = details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join("; ");
  return c.json(body("invalid_input", `Invalid request: ${summary}`, details), 400);
}

function body(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}
