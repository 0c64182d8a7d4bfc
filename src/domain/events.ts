import type { MessageStatusUpdate, ReceivedMessage } from "./message.ts";
import type { SessionRecord, SessionStatus } from "./session.ts";
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
  | MessageStatusEvent;

interface EventBase {
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
  session: SessionRecord;
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

/** A contact sent a message to the session. */
export interface MessageReceivedEvent extends EventBase {
  type: "message.received";
  message: ReceivedMessage;
}

/** A message the session sent was acknowledged by the server, delivered or read. */
export interface MessageStatusEvent extends EventBase {
  type: "message.status";
  message: MessageStatusUpdate;
}

export type GatewayEventType = GatewayEvent["type"];

/** Every event type, for validating subscriptions. */
export const GATEWAY_EVENT_TYPES = [
  "session.status",
  "session.deleted",
  "session.qr",
  "message.received",
  "message.status",
] as const satisfies readonly GatewayEventType[];

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

  /** Subscribes; returns a function that unsubscribes. */
  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Delivers `event` to every listener. */
  publish(event: GatewayEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#onListenerError(error, event);
      }
    }
  }
}
