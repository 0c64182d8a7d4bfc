import { strict as assert } from "node:assert";
import { webhookHostProblem } from "../../../src/domain/webhook.ts";

Deno.test("webhookHostProblem() allows every host when the list is empty", () => {
  assert.equal(webhookHostProblem("http://169.254.169.254/latest", []), null);
});

Deno.test("webhookHostProblem() matches exact hosts and *. subdomains, not the bare domain", () => {
  const allowed = ["hooks.example.com", "*.partner.test"];
  assert.equal(webhookHostProblem("https://hooks.example.com:8443/x", allowed), null);
  assert.equal(webhookHostProblem("https://HOOKS.EXAMPLE.COM/x", allowed), null);
  assert.equal(webhookHostProblem("https://a.partner.test/x", allowed), null);
  assert.equal(webhookHostProblem("https://a.b.partner.test/x", allowed), null);
  for (
    const url of [
      "https://partner.test/x",
      "https://evilpartner.test/x",
      "https://hooks.example.com.evil.test/x",
      "http://127.0.0.1/x",
      "http://[::1]/x",
    ]
  ) {
    assert.match(webhookHostProblem(url, allowed) ?? "", /not in WEBHOOK_ALLOWED_HOSTS/, url);
  }
});
