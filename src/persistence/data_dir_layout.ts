/**
 * Names of everything the file store keeps in its data directory:
 *
 * ```
 * <dataDir>/
 *   .lock                                   held by the process that uses the directory
 *   .api-key                                the generated API key (when none is configured)
 *   .encryption-key-check                   proves which key encrypts the auth files
 *   .key-rotation                           a key rotation in progress (the new key's check)
 *   sessions-metadata.json                  { "<sessionId>": SessionRecord, … }
 *   sessions-metadata.json.corrupt-<time>   an unreadable metadata file, set aside
 *   sessions-metadata.quarantine-<time>.json entries that failed validation, with the reason
 *   <sessionId>/creds.json, pre-key-1.json, … Baileys' `useMultiFileAuthState` layout
 *   <sessionId>/.journal                    auth writes not yet checkpointed; replayed on open
 *   .webhook-outbox/pending.jsonl           webhook deliveries not yet made (append-only log)
 *   .webhook-outbox/dead-letters.jsonl      deliveries whose every attempt failed
 *   .message-store/<sessionId>/messages.jsonl  the session's recent messages and idempotency
 *                                           keys (append-only log, compacted; see
 *                                           `message_store/file_message_store.ts`)
 *   .message-store/.trash-<uuid>/           a deleted session's messages; removed on open
 *   .media/tmp/<uuid>/                      a file being sent, encrypted under a key only in
 *                                           memory; removed after the send and on start
 *   .media/cache/<sessionId>/<hash>         downloaded media as WhatsApp encrypted it (size-
 *                                           capped; removed with the session; never backed up)
 *   .tmp-<uuid>, <sessionId>/.tmp-<uuid>    half-written files; removed on open
 *   .tmp-space-probe-<uuid>                 written and removed while the disk is full (probe)
 *   .trash-<uuid>/                          a deleted session folder; removed on open
 * ```
 *
 * Session ids contain no dot, so none of these names can be taken for a session folder (which is
 * why the store's own files start with a dot: `api-key` would be a valid session id), and auth
 * file names may not start with a dot, so temporary files and the journal cannot be taken for
 * auth files.
 *
 * The journal: an auth write is durable once its batch is appended to `<sessionId>/.journal`
 * and that file is synced (one `fdatasync`); the files themselves are replaced in the background
 * without syncing. A checkpoint (when the journal grows past a threshold, after a second of
 * idleness, on flush and on close) syncs the files written since the last one and the folder,
 * then deletes the journal. So after a clean shutdown a folder holds Baileys' plain files and no
 * journal; after a crash the next open replays the journal before anything reads the folder. A
 * folder copied out of a crashed data directory without opening the store first may lack the
 * writes still in its journal (and a file written without sync may be empty): open the store on
 * it once to replay.
 */

/** The lock file that keeps a second process out. */
export const LOCK_FILE_NAME = ".lock";

/** Left by a store that closed cleanly; the next open skips sweeping the session folders. */
export const CLEAN_CLOSE_FILE_NAME = ".closed-cleanly";

/** The API key the gateway generated on first start, when none was configured. */
export const API_KEY_FILE_NAME = ".api-key";

/** A constant encrypted with the auth files' key: checks a key before any file is touched. */
export const KEY_CHECK_FILE_NAME = ".encryption-key-check";

/** Present while a key rotation runs (holds the new key's check); startup refuses while it exists. */
export const KEY_ROTATION_FILE_NAME = ".key-rotation";

/** The folder of the webhook outbox (see `file_webhook_outbox.ts`). */
export const OUTBOX_DIR_NAME = ".webhook-outbox";

/** The folder of the message store: one sub-folder per session (see `file_message_store.ts`). */
export const MESSAGE_STORE_DIR_NAME = ".message-store";
/** The folder of media files: being sent (`tmp/`) and downloaded (`cache/`; see `src/media/`). */
export const MEDIA_DIR_NAME = ".media";

/** The outbox's log of deliveries waiting to be made. */
export const PENDING_OUTBOX_FILE_NAME = "pending.jsonl";

/** The outbox's log of deliveries that exhausted their retries. */
export const DEAD_LETTERS_FILE_NAME = "dead-letters.jsonl";

/** The file every session's auth folder has once it has credentials. */
export const CREDS_FILE_NAME = "creds.json";

/** The session metadata file. */
export const METADATA_FILE_NAME = "sessions-metadata.json";

/** The write-ahead journal inside a session folder (see the layout above). */
export const JOURNAL_FILE_NAME = ".journal";

/** Prefix of temporary files written before an atomic rename. */
export const TEMP_FILE_PREFIX = ".tmp-";

/** Prefix a session folder is renamed to while it is being deleted. */
export const TRASH_PREFIX = ".trash-";

/**
 * The name an unreadable metadata file is moved to.
 *
 * @example
 * ```ts
 * corruptMetadataName("2025-01-02T03-04-05-678Z"); // "sessions-metadata.json.corrupt-2025-01-02T03-04-05-678Z"
 * ```
 */
export function corruptMetadataName(stamp: string): string {
  return `${METADATA_FILE_NAME}.corrupt-${stamp}`;
}

/**
 * The name of the file that keeps metadata entries which failed validation.
 *
 * @example
 * ```ts
 * quarantineFileName("2025-01-02T03-04-05-678Z"); // "sessions-metadata.quarantine-2025-01-02T03-04-05-678Z.json"
 * ```
 */
export function quarantineFileName(stamp: string): string {
  return `sessions-metadata.quarantine-${stamp}.json`;
}

/** Whether a data directory entry is one of the store's own files rather than a session folder. */
export function isStoreFileName(name: string): boolean {
  return name === LOCK_FILE_NAME || name === CLEAN_CLOSE_FILE_NAME || name === METADATA_FILE_NAME ||
    name === API_KEY_FILE_NAME ||
    name === KEY_CHECK_FILE_NAME || name === KEY_ROTATION_FILE_NAME || name === OUTBOX_DIR_NAME ||
    name === MESSAGE_STORE_DIR_NAME ||
    name === MEDIA_DIR_NAME ||
    name.startsWith(TEMP_FILE_PREFIX) || name.startsWith(TRASH_PREFIX) ||
    name.startsWith(`${METADATA_FILE_NAME}.corrupt-`) ||
    name.startsWith("sessions-metadata.quarantine-");
}

/**
 * A timestamp usable in a file name (no `:`), from a date.
 *
 * @example
 * ```ts
 * fileStamp(new Date("2025-01-02T03:04:05.678Z")); // "2025-01-02T03-04-05-678Z"
 * ```
 */
export function fileStamp(date: Date): string {
  return date.toISOString().replace(/[:.]/g, "-");
}
