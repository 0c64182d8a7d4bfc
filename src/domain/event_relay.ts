import type { GatewayEvent } from "./events.ts";

/**
 * Carries events between the nodes of a cluster, so that the live stream (`GET /api/events`) of
 * any node shows every session's events. Best effort and live only, like the stream itself:
 * webhooks are the durable outlet, and only the node that published an event puts it in the
 * webhook outbox.
 */
export interface EventRelay {
  /** Sends an event published on this node to the other nodes. Never throws, never waits. */
  send(event: GatewayEvent): void;

  /** Starts receiving: `deliver` gets every event other nodes send from now on. */
  start(deliver: (event: GatewayEvent) => void): Promise<void>;

  /** Stops receiving and sends what is still queued. */
  close(): Promise<void>;
}
