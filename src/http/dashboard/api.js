// The dashboard's one way to the gateway: the authenticated REST API, with the key this tab was
// given (session storage only: never a cookie, never the URL).

const KEY_STORAGE = "wa-gateway-api-key";

let apiKey = sessionStorage.getItem(KEY_STORAGE);

/** The API refused the key: forget it and ask again. */
export class Unauthorized extends Error {}

/** The key in use, or null before sign-in. */
export function currentKey() {
  return apiKey;
}

/** Keeps `key` for this tab (null forgets it). */
export function setKey(key) {
  apiKey = key;
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

/** Sends a request with the key; a body is sent as JSON. Throws `Unauthorized` on 401. */
export async function api(method, path, body, init = {}) {
  const headers = { "x-api-key": apiKey ?? "" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    ...init,
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) throw new Unauthorized("The API key was refused.");
  return response;
}

/** Sends a request and returns its JSON body, or throws the API's error message. */
export async function apiJson(method, path, body) {
  const response = await api(method, path, body);
  if (!response.ok) throw new Error(await errorMessage(response));
  return response.status === 204 ? null : await response.json();
}

/** The API's error as an operator reads it: the message, then the code to search for. */
export async function errorMessage(response) {
  try {
    const { error } = await response.json();
    if (!error?.message) return `HTTP ${response.status}`;
    return error.code ? `${error.message} (${error.code})` : error.message;
  } catch {
    return `HTTP ${response.status}`;
  }
}

/** `document.getElementById`. */
export const $ = (id) => document.getElementById(id);

/** An element with text content (never HTML) and optional attributes. */
export function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

/** A button that runs `onClick`. */
export function button(label, onClick, attributes = {}) {
  const node = element("button", label, { type: "button", ...attributes });
  node.addEventListener("click", onClick);
  return node;
}

/** A table row of text cells (and nodes, put in as they are). */
export function row(cells, attributes = {}) {
  const tr = element("tr", undefined, attributes);
  for (const cell of cells) {
    const td = element("td");
    if (cell instanceof Node) td.append(cell);
    else td.textContent = cell ?? "";
    tr.append(td);
  }
  return tr;
}

/** A duration as people say it: "3 d 4 h", "2 h 5 min", "42 s". */
export function duration(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min ${seconds % 60} s`;
  return `${seconds} s`;
}
