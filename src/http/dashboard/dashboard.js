// The dashboard's browser code: plain ES module, no build step. Everything it shows comes from
// the authenticated REST API; the page itself holds no data. Values from the API are only ever
// set as text (never as HTML), so a session name cannot inject markup.

const KEY_STORAGE = "wa-gateway-api-key";
const POLL_MS = 2000;

const $ = (id) => document.getElementById(id);

let apiKey = sessionStorage.getItem(KEY_STORAGE);
let listTimer;
let qrTimer;
let qrSession;
let qrObjectUrl;

/** The API refused the key: forget it and ask again. */
class Unauthorized extends Error {}

async function api(method, path, body) {
  const headers = { "x-api-key": apiKey ?? "" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) throw new Unauthorized("The API key was refused.");
  return response;
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    return body?.error?.message ?? `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

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

function logout(message) {
  apiKey = null;
  sessionStorage.removeItem(KEY_STORAGE);
  clearInterval(listTimer);
  closeQr();
  $("sessions").hidden = true;
  $("forget-key").hidden = true;
  $("login").hidden = false;
  showError(message);
}

function login(key) {
  apiKey = key;
  sessionStorage.setItem(KEY_STORAGE, key);
  $("login").hidden = true;
  $("forget-key").hidden = false;
  $("sessions").hidden = false;
  showError(null);
  refreshList();
  clearInterval(listTimer);
  listTimer = setInterval(refreshList, POLL_MS);
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
  row.append(cell(session.id), cell(session.name), statusCell, cell(phone), actions);
  return row;
}

function button(label, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = label;
  element.addEventListener("click", onClick);
  return element;
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
  if (apiKey) login(apiKey);
  else logout(null);
});
