import { strict as assert } from "node:assert";
import {
  createValueSealer,
  isSealed,
  SealedValueError,
} from "../../../src/persistence/sealed_value.ts";

const key = new Uint8Array(32).fill(7);
const otherKey = new Uint8Array(32).fill(8);

Deno.test("a sealed value opens with its key and context, and hides its plaintext", () => {
  const sealer = createValueSealer(key);
  const sealed = sealer.seal("webhook-secret-0123456789", "webhook:shop-1:https://a.example/");
  assert.ok(isSealed(sealed));
  assert.ok(!sealed.includes("webhook-secret"));
  assert.equal(
    sealer.open(sealed, "webhook:shop-1:https://a.example/"),
    "webhook-secret-0123456789",
  );
  // Random nonces: the same plaintext seals differently each time.
  assert.notEqual(sealer.seal("x", "c"), sealer.seal("x", "c"));
});

Deno.test("a sealed value does not open in another context, under another key, or altered", () => {
  const sealer = createValueSealer(key);
  const sealed = sealer.seal("secret", "webhook:shop-1:https://a.example/");
  assert.throws(() => sealer.open(sealed, "webhook:shop-2:https://a.example/"), SealedValueError);
  assert.throws(
    () => createValueSealer(otherKey).open(sealed, "webhook:shop-1:https://a.example/"),
    SealedValueError,
  );
  // A character in the middle (the last ones may carry only base64 padding bits).
  const middle = Math.floor(sealed.length / 2);
  const altered = sealed.slice(0, middle) + (sealed[middle] === "A" ? "B" : "A") +
    sealed.slice(middle + 1);
  assert.throws(() => sealer.open(altered, "webhook:shop-1:https://a.example/"), SealedValueError);
  assert.throws(() => sealer.open("sealed:v1:AAAA", "c"), SealedValueError);
  assert.throws(() => sealer.open("plaintext", "c"), SealedValueError);
});

Deno.test("isSealed() tells sealed values from plaintext", () => {
  assert.equal(isSealed("sealed:v1:abc"), true);
  assert.equal(isSealed("my-secret-0123456789"), false);
  assert.equal(isSealed(""), false);
});

Deno.test("blind() is the same for the same value, context and key, and different otherwise", () => {
  const sealer = createValueSealer(key);
  const jid = "15550009999@s.whatsapp.net";
  const blinded = sealer.blind(jid, "message-store:shop-1:chat");
  assert.equal(sealer.blind(jid, "message-store:shop-1:chat"), blinded);
  assert.ok(!blinded.includes("15550009999"));
  assert.notEqual(sealer.blind(jid, "message-store:shop-2:chat"), blinded);
  assert.notEqual(createValueSealer(otherKey).blind(jid, "message-store:shop-1:chat"), blinded);
  assert.notEqual(sealer.blind("15550009998@s.whatsapp.net", "message-store:shop-1:chat"), blinded);
});
