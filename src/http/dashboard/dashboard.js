// The dashboard's browser code: plain ES modules, no build step. Everything it shows comes from
// the authenticated REST API; the page itself holds no data. Values from the API are only ever
// set as text (never as HTML), so a session name cannot inject markup.
import { $, api, button, currentKey, errorMessage, setKey, Unauthorized } from "./api.js";
import { initDeadLetters, refreshDeadLetters } from "./dead_letters.js";
import { initEventLog, logEvent } from "./event_log.js";
import { initNodes, isClustered, refreshNodes, showNodeSessions } from "./nodes.js";
import {
  closeSessionDetail,
  initSessionDetail,
  openSessionDetail,
  refreshSessionDetail,
  sessionInDetail,
} from "./session_detail.js";
/** How often the list is read while the event stream is down. */
const POLL_MS = 2000;
/** How often it is read anyway while the stream is up, in case something was missed. */
const RESYNC_MS = 30000;
/** Wait before opening the event stream again after it ended. */
const STREAM_RETRY_MS = 3000;
/** How often the nodes are read (they heartbeat every few seconds; no event says so). */
const NODES_MS = 5000;

let listTimer;
let nodesTimer;
let qrTimer;
let qrSession;
let qrObjectUrl;
/** Aborts the event stream (on logout). */
let streamController;
let refreshTimer;
// The sessions the events since the last refresh were about, with the last event's type.
const touched = new Map();

function showError(message) {
  const box = $("error");
  box.textContent = message ?? "";
  box.hidden = !message;
}

function handle(error) {
  if (error instanceof Unauthorized) {
    logout(error.message);
  } else {
    showError(error?.message ?? String(error));
  }
}

/** The sections shown once signed in. */
const SIGNED_IN = ["sessions", "nodes", "events", "dead-letters"];

function logout(message) {
  setKey(null);
  clearInterval(listTimer);
  clearInterval(nodesTimer);
  streamController?.abort();
  setLive(false);
  closeQr();
  closeSessionDetail();
  for (const id of SIGNED_IN) $(id).hidden = true;
  $("forget-key").hidden = true;
  $("login").hidden = false;
  showError(message);
}

function login(key) {
  setKey(key);
  $("login").hidden = true;
  $("forget-key").hidden = false;
  for (const id of SIGNED_IN) $(id).hidden = false;
  showError(null);
  refreshList();
  refreshDeadLetters();
  refreshNodes();
  clearInterval(nodesTimer);
  nodesTimer = setInterval(refreshNodes, NODES_MS);
  setLive(false);
  followEvents();
}

/** Polls fast while the event stream is down, slowly while it is up. */
function setLive(live) {
  document.body.dataset.live = String(live);
  $("live").hidden = !live;
  clearInterval(listTimer);
  if (currentKey()) {
    listTimer = setInterval(() => {
      refreshList();
      refreshDeadLetters();
    }, live ? RESYNC_MS : POLL_MS);
  }
}

/**
 * Follows `GET /api/events` and refreshes what each event changed. A fetch with a stream reader,
 * because `EventSource` cannot send the API key header; reopened after it ends.
 */
async function followEvents() {
  streamController?.abort();
  const controller = new AbortController();
  streamController = controller;
  while (!controller.signal.aborted) {
    try {
      // Every type: the event log shows them all; the list follows the session ones.
      const response = await api("GET", "/api/events", undefined, { signal: controller.signal });
      if (!response.ok || !response.body) throw new Error(await errorMessage(response));
      setLive(true);
      refreshList(); // what changed before the stream opened
      await readFrames(response.body, onStreamFrame);
    } catch (error) {
      if (controller.signal.aborted) return;
      if (error instanceof Unauthorized) return handle(error);
    }
    setLive(false);
    await new Promise((resolve) => setTimeout(resolve, STREAM_RETRY_MS));
  }
}

/** Calls `onFrame` with each server-sent event frame (the text between blank lines). */
async function readFrames(body, onFrame) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      onFrame(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
    }
  }
}

function onStreamFrame(frame) {
  let type;
  let data = "";
  for (const line of frame.split("\n")) {
    if (line.startsWith("event:")) type = line.slice(6).trim();
    else if (line.startsWith("data:")) data += line.slice(5).trim();
  }
  if (!type || type === "error") return; // comments (keep-alives); `error` ends the stream
  let payload;
  try {
    payload = JSON.parse(data);
  } catch {
    // refresh the list anyway
  }
  logEvent(type, payload);
  if (!type.startsWith("session.")) return;
  const sessionId = payload?.sessionId;
  // Events come in bursts (a restore, a takeover, a QR rotation): one refresh per burst, of every
  // session the burst was about, not only the last event's.
  if (sessionId !== undefined) touched.set(sessionId, type);
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    const burst = new Map(touched);
    touched.clear();
    refreshList();
    if (qrSession !== undefined && burst.has(qrSession)) refreshQr();
    const detail = sessionInDetail();
    if (detail !== undefined && burst.has(detail)) {
      if (burst.get(detail) === "session.deleted") closeSessionDetail();
      else refreshSessionDetail();
    }
  }, 100);
}

async function refreshList() {
  try {
    const response = await api("GET", "/api/sessions");
    if (!response.ok) throw new Error(await errorMessage(response));
    const { sessions } = await response.json();
    renderSessions(sessions);
  } catch (error) {
    handle(error);
  }
}

function renderSessions(sessions) {
  const rows = $("session-rows");
  rows.replaceChildren(...sessions.map(sessionRow));
  $("empty").hidden = sessions.length > 0;
  showNodeSessions(sessions);
}

/** Shows each session's node once there are several nodes. */
function markClustered() {
  document.body.dataset.clustered = String(isClustered());
  refreshSessionDetail();
}

function sessionRow(session) {
  const row = document.createElement("tr");
  row.dataset.session = session.id;
  const cell = (text) => {
    const td = document.createElement("td");
    td.textContent = text ?? "";
    return td;
  };
  const status = document.createElement("span");
  status.className = `status status-${session.status}`;
  status.dataset.status = session.status;
  status.textContent = session.status;
  const statusCell = document.createElement("td");
  statusCell.append(status);

  const actions = document.createElement("td");
  actions.className = "actions";
  actions.append(button("Details", () => openSessionDetail(session.id)));
  if (session.status === "qr") actions.append(button("Show QR", () => openQr(session.id)));
  if (["disconnected", "failed", "logged_out"].includes(session.status)) {
    actions.append(button("Start", () => act("POST", `/api/sessions/${session.id}/start`)));
  }
  if (["qr", "connecting", "reconnecting", "connected"].includes(session.status)) {
    // Disconnects and keeps the credentials: Start links it again without a QR code.
    actions.append(button("Stop", () => act("POST", `/api/sessions/${session.id}/stop`)));
  }
  if (session.status === "connected") {
    actions.append(button("Log out", () => {
      if (confirm(`Log out ${session.id}? The phone will have to scan a new QR code.`)) {
        act("POST", `/api/sessions/${session.id}/logout`);
      }
    }));
  }
  actions.append(button("Delete", () => {
    if (confirm(`Delete ${session.id}? It is logged out and its credentials are removed.`)) {
      act("DELETE", `/api/sessions/${session.id}`);
    }
  }));
  const phone = session.phoneNumber ? `+${session.phoneNumber}` : "";
  const node = cell(session.node ?? "none");
  node.className = "node-column";
  row.append(cell(session.id), cell(session.name), statusCell, cell(phone), node, actions);
  return row;
}

async function act(method, path) {
  try {
    const response = await api(method, path);
    if (!response.ok) throw new Error(await errorMessage(response));
    showError(null);
  } catch (error) {
    handle(error);
  }
  await refreshList();
  await refreshSessionDetail();
}

async function createSession(event) {
  event.preventDefault();
  const id = $("new-id").value.trim();
  const name = $("new-name").value.trim();
  try {
    const response = await api("POST", "/api/sessions", {
      ...(id ? { id } : {}),
      ...(name ? { name } : {}),
    });
    if (!response.ok) throw new Error(await errorMessage(response));
    const session = await response.json();
    $("create-form").reset();
    showError(null);
    await refreshList();
    openQr(session.id);
  } catch (error) {
    handle(error);
  }
}

function openQr(id) {
  closeQr();
  qrSession = id;
  $("qr-session").textContent = id;
  $("qr-status").textContent = "Waiting for a QR code…";
  $("qr-image").hidden = true;
  $("pairing-form").hidden = false;
  $("pairing-code-line").hidden = true;
  $("qr-panel").hidden = false;
  refreshQr();
  qrTimer = setInterval(refreshQr, POLL_MS);
}

async function requestPairingCode(event) {
  event.preventDefault();
  const id = qrSession;
  if (!id) return;
  try {
    const response = await api("POST", `/api/sessions/${id}/pairing-code`, {
      phoneNumber: $("pairing-phone").value.trim(),
    });
    if (!response.ok) throw new Error(await errorMessage(response));
    const { code } = await response.json();
    // Shown as WhatsApp shows it: two groups of four.
    $("pairing-code").textContent = `${code.slice(0, 4)}-${code.slice(4)}`;
    $("pairing-code-line").hidden = false;
    showError(null);
  } catch (error) {
    handle(error);
  }
}

function closeQr() {
  clearInterval(qrTimer);
  qrSession = undefined;
  $("qr-panel").hidden = true;
  if (qrObjectUrl) URL.revokeObjectURL(qrObjectUrl);
  qrObjectUrl = undefined;
}

/** Shows the pending QR code (it changes about every 20 s) until the session links. */
async function refreshQr() {
  const id = qrSession;
  if (!id) return;
  try {
    const response = await api("GET", `/api/sessions/${id}`);
    if (!response.ok) throw new Error(await errorMessage(response));
    const session = await response.json();
    if (qrSession !== id) return;
    const image = $("qr-image");
    if (session.status === "connected") {
      clearInterval(qrTimer);
      image.hidden = true;
      $("qr-hint").hidden = true;
      $("pairing-form").hidden = true;
      $("pairing-code-line").hidden = true;
      $("qr-status").textContent = `Linked as +${session.phoneNumber ?? "?"}` +
        (session.pushName ? ` (${session.pushName})` : "");
      return;
    }
    $("qr-hint").hidden = false;
    if (session.status !== "qr") {
      $("qr-status").textContent = `Status: ${session.status}`;
      return;
    }
    const qr = await api("GET", `/api/sessions/${id}/qr?format=svg`);
    if (!qr.ok || qrSession !== id) return; // 409: the code is being replaced; next poll
    const svg = await qr.blob();
    if (qrObjectUrl) URL.revokeObjectURL(qrObjectUrl);
    qrObjectUrl = URL.createObjectURL(svg);
    image.src = qrObjectUrl;
    image.hidden = false;
    $("qr-status").textContent = "Scan this code with the phone.";
  } catch (error) {
    handle(error);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    $("api-key").value = "";
    if (key) login(key);
  });
  $("forget-key").addEventListener("click", () => logout(null));
  $("create-form").addEventListener("submit", createSession);
  $("qr-close").addEventListener("click", closeQr);
  $("pairing-form").addEventListener("submit", requestPairingCode);
  initSessionDetail({
    errors: (error) => (error ? handle(error) : showError(null)),
    changed: refreshList,
  });
  initEventLog();
  initNodes({
    errors: (error) => (error ? handle(error) : showError(null)),
    clustered: markClustered,
  });
  initDeadLetters({ errors: (error) => (error ? handle(error) : showError(null)) });
  const key = currentKey();
  if (key) login(key);
  else logout(null);
});
