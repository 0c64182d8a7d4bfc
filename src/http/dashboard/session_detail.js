// One session in detail: what it is doing and why (status history, last disconnect, uptime),
// a test message, and its webhooks (secrets are never shown: the API masks them).
import { $, apiJson, button, duration, element, row } from "./api.js";
import { isClustered } from "./nodes.js";

const MASKED = "********";

let shown; // the id of the session on display
let session; // its latest view from the API
let uptimeTimer;
let onError = () => {};
let onChanged = () => {};

/** Wires the panel's forms; `errors` shows a failure, `changed` refreshes the session list. */
export function initSessionDetail({ errors, changed }) {
  onError = errors;
  onChanged = changed;
  $("detail-close").addEventListener("click", closeSessionDetail);
  $("send-form").addEventListener("submit", sendTestMessage);
  $("webhook-form").addEventListener("submit", addWebhook);
}

/** Shows the session `id`. */
export async function openSessionDetail(id) {
  shown = id;
  $("detail-id").textContent = id;
  $("send-result").textContent = "";
  $("detail").hidden = false;
  clearInterval(uptimeTimer);
  uptimeTimer = setInterval(renderUptime, 1000);
  await refreshSessionDetail();
}

/** Hides the panel. */
export function closeSessionDetail() {
  shown = undefined;
  session = undefined;
  clearInterval(uptimeTimer);
  $("detail").hidden = true;
}

/** The session on display, if any. */
export function sessionInDetail() {
  return shown;
}

/** Reads the session on display again (after an event about it). */
export async function refreshSessionDetail() {
  const id = shown;
  if (!id) return;
  try {
    const view = await apiJson("GET", `/api/sessions/${encodeURIComponent(id)}`);
    if (shown !== id) return;
    session = view;
    render();
  } catch (error) {
    onError(error);
  }
}

function render() {
  const s = session;
  const disconnect = s.lastDisconnect;
  const facts = [
    ["Name", s.name ?? "—"],
    ["Status", s.status],
    ["Phone", s.phoneNumber ? `+${s.phoneNumber}` : "—"],
    ["Push name", s.pushName ?? "—"],
    ["Connected since", s.connectedAt && s.status === "connected" ? s.connectedAt : "—"],
    ["Uptime", ""],
    // Which node runs it; null while none does (its node died and the lease has not lapsed).
    ...(isClustered() ? [["Node", s.node ?? "none"]] : []),
    [
      "Last disconnect",
      disconnect
        ? `${disconnect.reason}${disconnect.code === null ? "" : ` (${disconnect.code})`}` +
          `${disconnect.message ? `: ${disconnect.message}` : ""} at ${disconnect.at}`
        : "—",
    ],
  ];
  $("detail-facts").replaceChildren(
    ...facts.flatMap(([term, value]) => [
      element("dt", term),
      element("dd", value, { "data-fact": term.toLowerCase().replaceAll(" ", "-") }),
    ]),
  );
  renderUptime();
  const storage = $("detail-storage");
  storage.hidden = !s.storageProblem;
  storage.textContent = s.storageProblem
    ? `${s.storageProblem.message} (since ${s.storageProblem.since}; ` +
      `${s.storageProblem.unwrittenAuthFiles} auth file(s) waiting)`
    : "";
  $("detail-history").replaceChildren(
    ...[...(s.statusHistory ?? [])].reverse().map((change) =>
      row([change.at, change.previousStatus ?? "—", change.status, change.reason ?? ""])
    ),
  );
  $("webhook-rows").replaceChildren(
    ...(s.webhooks ?? []).map((hook) =>
      row([
        hook.url,
        hook.events.length ? hook.events.join(", ") : "every event",
        hook.secret,
        button("Remove", () => removeWebhook(hook.url)),
      ], { "data-webhook": hook.url })
    ),
  );
  $("webhooks-empty").hidden = (s.webhooks ?? []).length > 0;
  $("send-form").hidden = s.status !== "connected";
  $("send-unavailable").hidden = s.status === "connected";
}

function renderUptime() {
  const cell = document.querySelector("[data-fact='uptime']");
  if (!cell || !session) return;
  cell.textContent = session.status === "connected" && session.connectedAt
    ? duration(Date.now() - Date.parse(session.connectedAt))
    : "—";
}

async function sendTestMessage(event) {
  event.preventDefault();
  const id = shown;
  const result = $("send-result");
  result.textContent = "Sending…";
  try {
    const sent = await apiJson("POST", `/api/sessions/${encodeURIComponent(id)}/messages`, {
      type: "text",
      to: $("send-to").value.trim(),
      text: $("send-text").value,
    });
    result.textContent = `Sent: ${sent.id} (${sent.status})`;
    onError(null);
  } catch (error) {
    result.textContent = "";
    onError(error);
  }
}

/** The session's webhooks as the API takes them back: masked secrets keep the stored ones. */
function currentWebhooks() {
  return (session?.webhooks ?? []).map((hook) => ({
    url: hook.url,
    events: hook.events,
    secret: MASKED,
  }));
}

async function saveWebhooks(webhooks) {
  const id = shown;
  session = await apiJson("PATCH", `/api/sessions/${encodeURIComponent(id)}`, { webhooks });
  if (shown === id) render();
  onError(null);
  onChanged();
}

async function addWebhook(event) {
  event.preventDefault();
  const events = $("webhook-events").value.split(",").map((type) => type.trim()).filter(Boolean);
  try {
    await saveWebhooks([
      ...currentWebhooks(),
      { url: $("webhook-url").value.trim(), secret: $("webhook-secret").value, events },
    ]);
    $("webhook-form").reset();
  } catch (error) {
    onError(error);
  }
}

async function removeWebhook(url) {
  if (!confirm(`Remove the webhook ${url}?`)) return;
  try {
    await saveWebhooks(currentWebhooks().filter((hook) => hook.url !== url));
  } catch (error) {
    onError(error);
  }
}
