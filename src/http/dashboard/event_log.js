// The live event log: every event of the stream, newest first, filtered by session and type in
// the page (the stream itself carries everything, so changing a filter loses nothing).
import { $, row } from "./api.js";

/** Events kept for the log; older ones drop off. */
const LOG_LIMIT = 200;

const entries = [];

/** Wires the filters. */
export function initEventLog() {
  $("event-session-filter").addEventListener("input", renderEventLog);
  $("event-type-filter").addEventListener("change", renderEventLog);
  $("events-clear").addEventListener("click", () => {
    entries.length = 0;
    renderEventLog();
  });
}

/** Adds one event from the stream (`type`, and its parsed `data`). */
export function logEvent(type, data) {
  entries.unshift({ type, data });
  if (entries.length > LOG_LIMIT) entries.pop();
  renderEventLog();
}

function renderEventLog() {
  const session = $("event-session-filter").value.trim();
  const type = $("event-type-filter").value;
  const shown = entries.filter((entry) =>
    (!session || entry.data?.sessionId === session) && (!type || entry.type === type)
  );
  $("event-rows").replaceChildren(
    ...shown.map(({ type, data }) =>
      row([data?.at ?? "", type, data?.sessionId ?? "", summary(type, data?.data ?? {})], {
        "data-event-type": type,
        "data-event-session": data?.sessionId ?? "",
      })
    ),
  );
  $("events-empty").hidden = shown.length > 0;
  $("events-empty").textContent = entries.length
    ? "No event matches the filters."
    : "No events yet.";
}

/** One line about an event, from its payload's data. */
function summary(type, data) {
  switch (type) {
    case "session.status":
      return `${data.previousStatus ?? "—"} → ${data.status}`;
    case "session.qr":
      return "new QR code";
    case "session.deleted":
      return "deleted";
    case "message.received":
      return `from ${data.message?.from ?? "?"}: ${data.message?.text ?? data.message?.type ?? ""}`;
    case "message.sent":
      return `to ${data.message?.to ?? "?"} (${data.message?.status ?? ""})`;
    case "message.status":
      return `${data.messageId ?? "?"}: ${data.previousStatus ?? "—"} → ${data.status}`;
    default:
      return JSON.stringify(data);
  }
}
