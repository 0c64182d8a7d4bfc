// Webhook deliveries that exhausted their retries: inspect what was being sent, send it again,
// or discard it.
import { $, apiJson, button, element, row } from "./api.js";

let onError = () => {};
let letters = [];

/** Wires the section; `errors` shows a failure. */
export function initDeadLetters({ errors }) {
  onError = errors;
  $("dead-letters-refresh").addEventListener("click", refreshDeadLetters);
  $("dead-letter-close").addEventListener("click", () => ($("dead-letter-panel").hidden = true));
}

/** Reads the dead letters again. */
export async function refreshDeadLetters() {
  try {
    ({ deadLetters: letters } = await apiJson("GET", "/api/webhooks/dead-letters"));
    render();
  } catch (error) {
    onError(error);
  }
}

function render() {
  $("dead-letter-rows").replaceChildren(
    ...letters.map((letter) => {
      const actions = element("span", undefined, { class: "actions" });
      actions.append(
        button("Inspect", () => inspect(letter)),
        button("Retry", () => act("POST", `/api/webhooks/dead-letters/${letter.id}/retry`)),
        button("Discard", () => {
          if (confirm(`Discard the delivery ${letter.id}? It is not sent again.`)) {
            act("DELETE", `/api/webhooks/dead-letters/${letter.id}`);
          }
        }),
      );
      return row(
        [
          letter.deadAt,
          letter.sessionId,
          letter.eventType,
          letter.endpoint.url,
          letter.attempts,
          letter.lastError,
          actions,
        ],
        { "data-dead-letter": letter.id },
      );
    }),
  );
  $("dead-letters-empty").hidden = letters.length > 0;
}

function inspect(letter) {
  $("dead-letter-id").textContent = letter.id;
  // The secret is masked by the API already; the body is the event as it would be delivered.
  $("dead-letter-json").textContent = JSON.stringify(letter, null, 2);
  $("dead-letter-panel").hidden = false;
}

async function act(method, path) {
  try {
    await apiJson(method, path);
    $("dead-letter-panel").hidden = true;
    onError(null);
  } catch (error) {
    onError(error);
  }
  await refreshDeadLetters();
}
