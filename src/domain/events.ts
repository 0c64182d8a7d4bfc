import type { IncomingMessage, MessageStatus, SentContent, SentMessage } from "./message.ts";
import type { GroupParticipantsUpdate, GroupUpdate, PresenceUpdate } from "./account_events.ts";
import type { PublicSessionRecord, SessionStatus } from "./session.ts";
import type { SessionId } from "./session_id.ts";

/**
 * Everything the gateway tells the outside world about, published on one bus. Outlets (webhooks,
 * the SSE stream, metrics) subscribe to it; publishers never wait for them.
 */
export type GatewayEvent =
  | SessionStatusEvent
  | SessionDeletedEvent
  | QrEvent
  | MessageReceivedEvent
  | MessageSentEvent
  | MessageStatusEvent
  | MessageEditedEvent
  | MessageDeletedEvent
  | PollVoteEvent
  | GroupUpdatedEvent
  | GroupParticipantsEvent
  | PresenceUpdateEvent;

interface EventBase {
  /** Unique per event (`evt_<uuid>`): receivers use it to drop a redelivered event. */
  id: string;
  sessionId: SessionId;
  /** ISO timestamp of when the gateway observed the event. */
  at: string;
}

/** A session changed status (the record is the state after the change). */
export interface SessionStatusEvent extends EventBase {
  type: "session.status";
  status: SessionStatus;
  /** `null` when the session was just created. */
  previousStatus: SessionStatus | null;
  /** Webhook secrets masked: events leave the process. */
  session: PublicSessionRecord;
}

/** A session was deleted. */
export interface SessionDeletedEvent extends EventBase {
  type: "session.deleted";
}

/** A new QR code is waiting to be scanned. */
export interface QrEvent extends EventBase {
  type: "session.qr";
  qr: string;
}

/** Someone sent the session's account a message. */
export interface MessageReceivedEvent extends EventBase {
  type: "message.received";
  message: IncomingMessage;
}

/** WhatsApp accepted a message the session sent (through the API). */
export interface MessageSentEvent extends EventBase {
  type: "message.sent";
  message: SentMessage;
  content: SentContent;
}

/** A message the session sent was delivered, read or played (a receipt arrived). */
export interface MessageStatusEvent extends EventBase {
  type: "message.status";
  messageId: string;
  /** The chat's JID. */
  chat: string;
  status: MessageStatus;
  /** `null` when the gateway no longer (or never) tracked the message. */
  previousStatus: MessageStatus | null;
}

/** A text was edited by its sender: this account (over the API or its phone) or the other side. */
export interface MessageEditedEvent extends EventBase {
  type: "message.edited";
  messageId: string;
  chat: string;
  fromMe: boolean;
  /** The new text. */
  text: string | null;
}

/** A message was deleted for everyone by its sender (either side). */
export interface MessageDeletedEvent extends EventBase {
  type: "message.deleted";
  messageId: string;
  chat: string;
  fromMe: boolean;
}

/** Someone voted on a poll (or changed their vote): the options now chosen, decrypted. */
export interface PollVoteEvent extends EventBase {
  type: "poll.vote";
  /** The poll's message id. */
  pollMessageId: string;
  chat: string;
  voter: string;
  /** The option names now selected; empty when the vote was withdrawn. */
  selectedOptions: string[];
}

/** A group's subject, description or settings changed (by anyone, this account included). */
export type GroupUpdatedEvent = EventBase & GroupUpdate;

/** Participants of a group were added, removed or left, promoted or demoted. */
export type GroupParticipantsEvent = EventBase & GroupParticipantsUpdate;

/** A contact came online, went away, is typing or recording (see `presence.update` docs). */
export type PresenceUpdateEvent = EventBase & PresenceUpdate;

export type GatewayEventType = GatewayEvent["type"];

type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;

/** An event as a publisher builds it; the bus gives it its id. */
export type NewGatewayEvent = WithoutId<GatewayEvent>;

/** The JSON every outlet (webhook body, SSE `data:`) sends for an event. */
export interface EventPayload {
  id: string;
  type: GatewayEventType;
  sessionId: SessionId;
  at: string;
  /** The event's own fields. */
  data: Record<string, unknown>;
}

/**
 * The outlet form of an event: an envelope (`id`, `type`, `sessionId`, `at`) and the rest under
 * `data`. Events hold no secrets, so neither does this.
 *
 * @example
 * ```ts
 * JSON.stringify(eventPayload(event)); // {"id":"evt_…","type":"session.qr",…,"data":{"qr":"…"}}
 * ```
 */
export function eventPayload(event: GatewayEvent): EventPayload {
  const { id, type, sessionId, at, ...data } = event;
  return { id, type, sessionId, at, data };
}

export type EventListener = (event: GatewayEvent) => void;

/**
 * A synchronous fan-out bus. Listeners must return quickly (queue work, never await network I/O);
 * a listener that throws is logged by the caller-provided handler and does not affect the others.
 */
export class EventBus {
  readonly #listeners = new Set<EventListener>();
  readonly #onListenerError: (error: unknown, event: GatewayEvent) => void;

  constructor(onListenerError: (error: unknown, event: GatewayEvent) => void = () => {}) {
    this.#onListenerError = onListenerError;
  }

  /** How many listeners are subscribed (outlets, open event streams). */
  get listenerCount(): number {
    return this.#listeners.size;
  }

  /** Subscribes; returns a function that unsubscribes. */
  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Gives `event` its id and delivers it to every listener; returns the published event. */
  publish(newEvent: NewGatewayEvent): GatewayEvent {
    const event = { ...newEvent, id: `evt_${crypto.randomUUID()}` } as GatewayEvent;
    this.deliver(event);
    return event;
  }

  /** Delivers an event that already has its id (one published on another bus or node). */
  deliver(event: GatewayEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#onListenerError(error, event);
      }
    }
  }
}
