/**
 * Typed errors thrown by the domain and its adapters. The HTTP layer maps them to status codes in
 * one place (`src/http/error_handler.ts`); nothing else decides a status code.
 */

/** Base class: every error the gateway raises on purpose carries a stable machine-readable code. */
export abstract class GatewayError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A value supplied by a caller is not acceptable. */
export class ValidationError extends GatewayError {
  readonly code = "invalid_input";
  constructor(message: string, readonly details?: unknown) {
    super(message);
  }
}

/** A session id does not match the allowed pattern. */
export class InvalidSessionIdError extends GatewayError {
  readonly code = "invalid_session_id";
  constructor(readonly sessionId: string) {
    super("Invalid session id: must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'");
  }
}

/** No session with this id exists. */
export class SessionNotFoundError extends GatewayError {
  readonly code = "session_not_found";
  constructor(readonly sessionId: string) {
    super(`Session '${sessionId}' not found`);
  }
}

/** No dead letter with this id exists (never did, or already retried or deleted). */
export class DeadLetterNotFoundError extends GatewayError {
  readonly code = "dead_letter_not_found";
  constructor(readonly deadLetterId: string) {
    super(`Dead letter '${deadLetterId}' not found`);
  }
}

/** A session with this id already exists. */
export class SessionAlreadyExistsError extends GatewayError {
  readonly code = "session_exists";
  constructor(readonly sessionId: string) {
    super(`Session '${sessionId}' already exists`);
  }
}

/** The session is not in a state that allows the operation (e.g. sending while disconnected). */
export class SessionStateError extends GatewayError {
  readonly code: string;
  constructor(message: string, code = "session_state_conflict") {
    super(message);
    this.code = code;
  }
}

/** The session has no QR code pending (not started, already linked, or between QR refreshes). */
export class QrNotAvailableError extends GatewayError {
  readonly code = "qr_not_available";
}

/** WhatsApp refused or failed a request (a send, a number check) made for a valid input. */
export class WhatsAppRequestError extends GatewayError {
  readonly code = "whatsapp_error";
}

/** The gateway is shutting down and no longer accepts work. */
export class ShuttingDownError extends GatewayError {
  readonly code = "shutting_down";
  constructor() {
    super("The gateway is shutting down");
  }
}

/** Another process holds the data directory. */
export class DataDirectoryLockedError extends GatewayError {
  readonly code = "data_directory_locked";
  constructor(readonly lockPath: string) {
    super(
      `Another gateway process holds the lock ${lockPath}; ` +
        "only one process may use a data directory at a time",
    );
  }
}

/** Persisted data could not be read or written. */
export class PersistenceError extends GatewayError {
  readonly code = "persistence_error";
}

/**
 * A write failed because the disk that holds the data has no space left (ENOSPC, or a quota).
 * Nothing acknowledged is lost: the change was not made, or is kept in memory and written once
 * space is back.
 */
export class InsufficientStorageError extends GatewayError {
  readonly code = "insufficient_storage";
}

/** The request carries no API key, or a wrong one. */
export class UnauthorizedError extends GatewayError {
  readonly code = "unauthorized";
  constructor() {
    super("A valid API key is required (X-Api-Key header or Authorization: Bearer)");
  }
}

/**
 * The auth files at rest do not fit the configured encryption key: encrypted files but no key
 * (`encryption_key_required`), a key that does not decrypt them (`encryption_key_mismatch`), or an
 * interrupted key rotation (`key_rotation_incomplete`). Raised at startup, before any file changes.
 */
export class EncryptionKeyError extends GatewayError {
  readonly code: string;
  constructor(
    code: "encryption_key_required" | "encryption_key_mismatch" | "key_rotation_incomplete",
    message: string,
  ) {
    super(message);
    this.code = code;
  }
}

/**
 * A write was refused because this node no longer holds the session's lease under the epoch it
 * wrote with: another node took the session over (or the lease expired). The writer must end the
 * session's socket at once, without logging out, and never retry the write.
 */
export class FencedOutError extends GatewayError {
  readonly code = "fenced_out";
  constructor(readonly sessionId: string, readonly epoch: number) {
    super(`This node no longer owns session '${sessionId}' (lease epoch ${epoch} is stale)`);
  }
}

/**
 * The session's owner (the node running its socket) cannot be reached right now: the session is
 * between owners (its node died or is handing it over), or its node did not answer in time. The
 * caller may retry after `retryAfterSeconds`.
 */
export class OwnerUnavailableError extends GatewayError {
  readonly code = "owner_unavailable";
  constructor(message: string, readonly retryAfterSeconds: number) {
    super(message);
  }
}

/**
 * An `Idempotency-Key` came back with a different request than the one first sent with it
 * (the IETF httpapi idempotency draft's 422).
 */
export class IdempotencyKeyReusedError extends GatewayError {
  readonly code = "idempotency_key_reused";
}

/** The first request with this `Idempotency-Key` is still being processed (the draft's 409). */
export class IdempotencyKeyInFlightError extends GatewayError {
  readonly code = "idempotency_key_in_flight";
}

/** No message with this id is in the session's message store (never was, or no longer). */
export class MessageNotFoundError extends GatewayError {
  readonly code = "message_not_found";
  constructor(readonly messageId: string) {
    super(`Message '${messageId}' is not in the message store`);
  }
}

/**
 * The database of `STORE=postgres` cannot be used: unreachable, refusing the credentials, or
 * missing. The message names the problem and where (host, port, database, user), never the
 * password. Raised at startup.
 */
export class DatabaseUnavailableError extends GatewayError {
  readonly code = "database_unavailable";
}

/** A media file is larger than `MAX_MEDIA_BYTES`; nothing was uploaded or sent. */
export class MediaTooLargeError extends GatewayError {
  readonly code = "media_too_large";
  constructor(readonly maxBytes: number) {
    super(`The media file exceeds MAX_MEDIA_BYTES (${maxBytes} bytes)`);
  }
}

/**
 * A media file is not of a type its message kind takes, or its declared mimetype is contradicted
 * by its content.
 */
export class UnsupportedMediaError extends GatewayError {
  readonly code = "unsupported_media_type";
}

/**
 * A media URL may not be fetched (`media_url_forbidden`: not http(s), or an address that is
 * loopback, private or link-local and not allowed) or could not be (`media_url_failed`).
 */
export class MediaUrlError extends GatewayError {
  readonly code: "media_url_forbidden" | "media_url_failed";
  constructor(code: "media_url_forbidden" | "media_url_failed", message: string) {
    super(message);
    this.code = code;
  }
}

/** No such media: not a stored media message, or WhatsApp no longer has the file (expired). */
export class MediaNotFoundError extends GatewayError {
  readonly code = "media_not_found";
}

/**
 * WhatsApp's media server answered with something other than the file the message describes
 * (a hash or MAC mismatch), or failed: nothing of it is passed on.
 */
export class MediaDownloadError extends GatewayError {
  readonly code = "media_download_failed";
}

/** No group with this JID, or none this account can see (WhatsApp answered 404). */
export class GroupNotFoundError extends GatewayError {
  readonly code = "group_not_found";
}

/**
 * WhatsApp refused the request for lack of rights (403): not an admin of the group, not a
 * member. The message carries WhatsApp's reason.
 */
export class WhatsAppForbiddenError extends GatewayError {
  readonly code = "whatsapp_forbidden";
}
