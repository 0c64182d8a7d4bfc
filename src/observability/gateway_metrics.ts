import type { EventBus } from "../domain/events.ts";
import { SESSION_STATUSES } from "../domain/session.ts";
import type { SessionManager } from "../domain/session_manager.ts";
import { MetricsRegistry } from "./metrics.ts";

/**
 * The gateway's metrics: sessions by status (read at scrape time), and counters fed by the
 * event bus, so nothing else has to know metrics exist.
 */
export function createGatewayMetrics(manager: SessionManager, events: EventBus): MetricsRegistry {
  const registry = new MetricsRegistry();
  registry.gauge("wa_sessions", "Sessions by status.", (gauge) => {
    const counts = new Map<string, number>(SESSION_STATUSES.map((s) => [s, 0]));
    for (const session of manager.list()) {
      counts.set(session.status, (counts.get(session.status) ?? 0) + 1);
    }
    gauge.setAll([...counts].map(([status, n]) => [{ status }, n]));
  });
  const reconnects = registry.counter(
    "wa_session_reconnects_total",
    "Times a session lost its connection and started reconnecting.",
  );
  const received = registry.counter("wa_messages_received_total", "Messages received.");
  const statuses = registry.counter(
    "wa_message_status_updates_total",
    "Status updates (server_ack, delivered, read) of sent messages.",
  );
  events.subscribe((event) => {
    if (event.type === "session.status" && event.status === "reconnecting") reconnects.inc();
    if (event.type === "message.received") received.inc();
    if (event.type === "message.status") statuses.inc({ status: event.message.status });
  });
  return registry;
}
