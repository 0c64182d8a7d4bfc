// The gateway nodes sharing the store (`GET /api/cluster/nodes`): each one's URL, last heartbeat,
// whether it is alive or draining, and the sessions it owns (named from the session list's
// `node`). With the file store there is one node, the gateway itself.
import { $, apiJson, duration, element, row } from "./api.js";

let nodes = [];
let sessions = [];
let onError = () => {};
let onClustered = () => {};

/** Wires the section; `errors` shows a failure, `clustered` is told when nodes come or go. */
export function initNodes({ errors, clustered }) {
  onError = errors;
  onClustered = clustered;
  // The heartbeat ages tick by themselves between two reads of the nodes.
  setInterval(renderHeartbeatAges, 1000);
}

/** Whether more than one node is registered (the session views then show each one's node). */
export function isClustered() {
  return nodes.length > 1;
}

/** Reads the nodes again. */
export async function refreshNodes() {
  try {
    const wasClustered = isClustered();
    ({ nodes } = await apiJson("GET", "/api/cluster/nodes"));
    render();
    if (isClustered() !== wasClustered) onClustered();
  } catch (error) {
    onError(error);
  }
}

/** Takes the latest session list, to name the sessions each node owns. */
export function showNodeSessions(list) {
  sessions = list;
  render();
}

function stateOf(node) {
  if (!node.alive) return "not responding";
  return node.draining ? "draining" : "alive";
}

function render() {
  const owned = new Map();
  for (const session of sessions) {
    const key = session.node ?? "";
    owned.set(key, [...(owned.get(key) ?? []), session.id]);
  }
  $("node-rows").replaceChildren(
    ...nodes.map((node) => {
      const state = element("span", stateOf(node), {
        class: `node-state node-${stateOf(node).replaceAll(" ", "-")}`,
        "data-node-state": stateOf(node),
      });
      const heartbeat = element("span", node.lastHeartbeatAt, {
        "data-heartbeat": node.lastHeartbeatAt,
      });
      const ids = owned.get(node.id) ?? [];
      return row(
        [
          node.self ? `${node.id} (this one)` : node.id,
          node.url,
          heartbeat,
          state,
          element("span", node.sessions, { "data-node-count": "" }),
          element("span", ids.join(", "), { "data-node-sessions": "" }),
        ],
        { "data-node": node.id },
      );
    }),
  );
  const unowned = owned.get("") ?? [];
  $("nodes-unowned").hidden = unowned.length === 0;
  $("nodes-unowned-ids").textContent = unowned.join(", ");
  renderHeartbeatAges();
}

function renderHeartbeatAges() {
  for (const cell of document.querySelectorAll("#node-rows [data-heartbeat]")) {
    const at = cell.dataset.heartbeat;
    cell.textContent = `${duration(Date.now() - Date.parse(at))} ago (${at})`;
  }
}
