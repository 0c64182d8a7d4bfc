import type { Fence } from "./fence.ts";
import type { MessageStatus } from "./message.ts";
import type { SessionId } from "./session_id.ts";

/**
 * The durable store of each session's recent messages, sent and received, beside `SessionStore`.
 * It backs Baileys' `getMessage` (retry receipts, poll votes), the chat and history routes, and
 * the media routes (which read a message's media key and path from `content`).
 *
 * The file implementation is `src/persistence/message_store/file_message_store.ts`, the
 * PostgreSQL one (shared by the nodes) `src/persistence/postgres/message_store/`; both keep the
 * same contract, which `tests/support/message_store_contract.ts` checks on both:
 * - every write resolves once it is durable, and a write from a stale owner (its fence's epoch
 *   superseded) is refused with `FencedOutError` and changes nothing;
 * - `put` inserts or replaces by `(sessionId, id)`; `patch` changes only the fields it names and
 *   ignores unknown ids;
 * - reads see every resolved write (read-your-writes within one process), and one process's
 *   writes of a session apply in call order, awaited or not;
 * - after `prune(now)`, no message older than the retention remains, and after any write a
 *   session's messages never exceed `maxBytesPerSession` (the earliest stored go first);
 * - `deleteSession` removes every message and idempotency record of the session.
 *
 * Pagination cursors are opaque strings; a cursor from one call is only valid for the same
 * session and chat.
 */
export interface MessageStore {
  /** Loads (or creates) the store. Must be called once, before anything else. */
  open(): Promise<MessageStoreLoadReport>;

  /** Inserts or replaces messages of the fence's session; durable on resolve. */
  put(fence: Fence, messages: readonly StoredMessage[]): Promise<void>;

  /** Changes some fields of stored messages of the fence's session; unknown ids are ignored. */
  patch(fence: Fence, patches: readonly MessagePatch[]): Promise<void>;

  /** One message of a session; `undefined` when it is not (or no longer) stored. */
  get(sessionId: SessionId, messageId: string): Promise<StoredMessage | undefined>;

  /** A session's chats, the most recently active first. */
  chats(sessionId: SessionId, page: PageRequest): Promise<Page<ChatSummary>>;

  /**
   * A chat's messages, newest first. `before`/`after` (message ids) start the page just past
   * that message, towards older or newer ones; `cursor` continues a previous page.
   */
  history(sessionId: SessionId, chat: string, page: HistoryRequest): Promise<Page<StoredMessage>>;

  /** Marks a chat's received messages as read (those listed, or every one); returns how many. */
  markRead(fence: Fence, chat: string, messageIds?: readonly string[]): Promise<number>;

  /** The idempotency records of sends (see `IdempotencyRecords`). */
  readonly idempotency: IdempotencyRecords;

  /** Drops what the retention no longer allows, in every session; returns how many messages. */
  prune(now: Date): Promise<number>;

  /** Removes every message and idempotency record of the fence's session; durable on resolve. */
  deleteSession(fence: Fence): Promise<void>;

  /** Everything stored for a session, for copying it to another store (`migrate-store`). */
  dump(sessionId: SessionId): Promise<SessionMessagesDump>;

  /** Waits until every write accepted so far is durable. */
  flush(): Promise<void>;

  /** Flushes and releases the store. */
  close(): Promise<void>;
}

/** How long messages are kept, and how much of them per session. */
export interface MessageRetention {
  /** Messages whose timestamp is older than this are dropped by `prune`. */
  maxAgeMs: number;
  /** The stored size (content and key) a session's messages may take; the earliest stored go first. */
  maxBytesPerSession: number;
}

/** A message's identity as WhatsApp (Baileys' `WAMessageKey`) has it. */
export interface StoredMessageKey {
  remoteJid: string;
  fromMe: boolean;
  id: string;
  participant?: string;
  remoteJidAlt?: string;
  participantAlt?: string;
}

/** One stored message: everything needed to send it again or to read its media. */
export interface StoredMessage {
  /** WhatsApp's message id (`key.id`). */
  id: string;
  key: StoredMessageKey;
  /** The chat's JID (`key.remoteJid`). */
  chat: string;
  /** Who sent it: the account for our own messages, else the contact (or group participant). */
  sender: string | null;
  fromMe: boolean;
  /** The sender's display name, when WhatsApp told it. */
  pushName: string | null;
  /** When WhatsApp says it was sent, in ms since the epoch. */
  timestamp: number;
  /** A sent message's progress; `null` for received ones. */
  status: MessageStatus | null;
  /** Whether this account has read it (received messages; our own are always read). */
  read: boolean;
  /** What kind of message it is, as the API names it (`text`, `location`, `poll`, … `other`). */
  type: string;
  /** Its text (a text's body, a caption, a poll's question), if it has one. */
  text: string | null;
  /** Baileys' `proto.Message`, encoded: the full content (an edit replaces it). */
  content: Uint8Array;
  /** When it was last edited (ms), if it was. */
  editedAt: number | null;
  /** When it was deleted for everyone (ms), if it was; `content` is then empty. */
  deletedAt: number | null;
}

/** The fields `patch` may change, for one message. */
export interface MessagePatch {
  id: string;
  status?: MessageStatus;
  read?: boolean;
  text?: string | null;
  content?: Uint8Array;
  editedAt?: number;
  deletedAt?: number;
}

/** A chat, as the chat list shows it. */
export interface ChatSummary {
  jid: string;
  /** Its newest stored message. */
  lastMessage: StoredMessage;
  /** Received messages not marked read. */
  unreadCount: number;
}

export interface PageRequest {
  limit: number;
  cursor?: string;
}

export interface HistoryRequest extends PageRequest {
  before?: string;
  after?: string;
}

export interface Page<T> {
  items: T[];
  /** Continues the listing; `null` on the last page. */
  nextCursor: string | null;
}

/** A session's stored messages (the earliest stored first) and idempotency records (by key). */
export interface SessionMessagesDump {
  messages: StoredMessage[];
  idempotency: IdempotencyRecord[];
}

/** What `open` found. */
export interface MessageStoreLoadReport {
  /** Every session that has stored messages or idempotency records. */
  sessionIds: SessionId[];
  sessions: number;
  messages: number;
  /** Things found broken and set aside or dropped (torn tails, unreadable lines). */
  repairs: string[];
}

/**
 * The idempotency records of `POST /messages` (`Idempotency-Key`): the key, the hash of the body
 * it came with and the message id chosen for it are durable before WhatsApp sees the message,
 * so a retry after a crash re-sends with the same id, or answers the recorded response.
 */
export interface IdempotencyRecords {
  /**
   * Records `key` for a send unless a live record of it exists; returns the existing record (a
   * record older than `expiresAfterMs` counts as absent and is replaced). Durable on resolve.
   */
  claim(fence: Fence, record: NewIdempotencyRecord): Promise<IdempotencyRecord | null>;

  /** Stores the response of a finished send; durable on resolve. */
  complete(fence: Fence, key: string, response: IdempotentResponse): Promise<void>;

  /** Forgets a key whose send failed before reaching WhatsApp, so that it may be tried again. */
  release(fence: Fence, key: string): Promise<void>;
}

export interface NewIdempotencyRecord {
  key: string;
  /** SHA-256 of the request, hex. */
  requestHash: string;
  messageId: string;
  /** ms since the epoch. */
  createdAt: number;
  expiresAfterMs: number;
}

export interface IdempotencyRecord extends NewIdempotencyRecord {
  /** Set once the send finished; until then a send with this key is in flight or was cut short. */
  response: IdempotentResponse | null;
}

/** The response a finished send answered, replayed to every retry with the same key. */
export interface IdempotentResponse {
  status: number;
  body: Record<string, unknown>;
}

/**
 * One session's messages as its connection reads and writes them (Baileys' `getMessage`, the
 * messages it sends and receives); every write carries the session owner's fence.
 */
export interface SessionMessages {
  /** One stored message; `undefined` when it is not (or no longer) stored. */
  get(messageId: string): Promise<StoredMessage | undefined>;
  /** Inserts or replaces messages; durable on resolve. */
  put(messages: readonly StoredMessage[]): Promise<void>;
  /** Changes some fields of stored messages; durable on resolve. */
  patch(patches: readonly MessagePatch[]): Promise<void>;
}

/**
 * The `SessionMessages` of the fence's session in `store`.
 *
 * @example
 * ```ts
 * const messages = sessionMessages(store, { sessionId, epoch: lease.epoch });
 * await messages.put([stored]);
 * ```
 */
export function sessionMessages(store: MessageStore, fence: Fence): SessionMessages {
  return {
    get: (messageId) => store.get(fence.sessionId, messageId),
    put: (messages) => store.put(fence, messages),
    patch: (patches) => store.patch(fence, patches),
  };
}
