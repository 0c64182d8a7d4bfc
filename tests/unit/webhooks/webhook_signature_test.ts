import { strict as assert } from "node:assert";
import { createHmac } from "node:crypto";
import { signWebhook, verifyWebhookSignature } from "../../../src/webhooks/webhook_signature.ts";

const SECRET = "webhook-secret-0123456789";

Deno.test("signWebhook() is sha256= and the hex HMAC of '<timestamp>.<body>'", () => {
  const body = '{"id":"evt_1"}';
  const expected = createHmac("sha256", SECRET).update(`1767225600.${body}`).digest("hex");
  assert.equal(signWebhook(SECRET, 1767225600, body), `sha256=${expected}`);
});

Deno.test("verifyWebhookSignature() accepts a fresh, matching signature only", () => {
  const now = 1767225600;
  const body = '{"id":"evt_1","type":"message.received"}';
  const signed = { timestamp: String(now), signature: signWebhook(SECRET, now, body), body };
  assert.equal(verifyWebhookSignature(SECRET, signed, { now }), true);
  assert.equal(verifyWebhookSignature("another-secret-012345", signed, { now }), false);
  assert.equal(verifyWebhookSignature(SECRET, { ...signed, body: `${body} ` }, { now }), false);
  assert.equal(
    verifyWebhookSignature(SECRET, { ...signed, timestamp: String(now + 1) }, { now }),
    false,
    "the timestamp is signed",
  );
  assert.equal(verifyWebhookSignature(SECRET, signed, { now: now + 301 }), false, "too old");
  assert.equal(verifyWebhookSignature(SECRET, { ...signed, signature: null }, { now }), false);
  assert.equal(verifyWebhookSignature(SECRET, { ...signed, timestamp: "x" }, { now }), false);
});
