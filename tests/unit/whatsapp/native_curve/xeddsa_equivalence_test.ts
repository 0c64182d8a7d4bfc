/**
 * The native XEdDSA check against `curve25519-js`'s own: the substituted `verify` must give the
 * original's answer (or throw its error) for every input. Each case runs through both
 * implementations side by side; the edge cases are built with the specification's reference
 * (tests/support/xeddsa_reference.ts). A case where node:crypto alone would answer differently
 * (it is stricter) must be one the substitution hands to the original.
 */
import { strict as assert } from "node:assert";
import { Buffer } from "node:buffer";
import { createPrivateKey, createPublicKey } from "node:crypto";
import curve25519Exports from "curve25519-js";
import {
  installNativeCurve,
  originalVerify,
} from "../../../../src/whatsapp/native_curve/curve_substitution.ts";
import { verifyXeddsaWithEd25519 } from "../../../../src/whatsapp/native_curve/xeddsa_ed25519.ts";
import { seededRandom } from "../../../support/prng.ts";
import * as ref from "../../../support/xeddsa_reference.ts";

type Verify = (publicKey: unknown, message: unknown, signature: unknown) => boolean;
const curve25519 = curve25519Exports as unknown as {
  verify: Verify;
  sign(privateKey: Uint8Array, message: Uint8Array): Uint8Array;
};

assert.deepEqual(installNativeCurve(), { active: true });
const substituted: Verify = curve25519.verify;
assert.notEqual(substituted, originalVerify, "the substitution is in place");

/** What a verification did: its answer, or the error it threw. */
function outcome(verify: Verify, args: unknown[]): string {
  try {
    return String(verify(args[0], args[1], args[2]));
  } catch (error) {
    return `throws ${(error as Error).name}: ${(error as Error).message}`;
  }
}

/** Both implementations on one case: the same outcome, returned. */
function both(publicKey: unknown, message: unknown, signature: unknown, label = ""): string {
  const args = [publicKey, message, signature];
  const original = outcome(originalVerify as Verify, args);
  assert.equal(outcome(substituted, args), original, `${label}: substituted vs original`);
  if (
    publicKey instanceof Uint8Array && message instanceof Uint8Array &&
    signature instanceof Uint8Array
  ) {
    // The native check alone may refuse what the original accepts, never the other way round.
    const native = verifyXeddsaWithEd25519(publicKey, message, signature);
    if (native) assert.equal(original, "true", `${label}: native accepted, original did not`);
  }
  return original;
}

/** A case the native check must answer by itself (valid, and s < q): both accept, natively. */
function bothNatively(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  label = "",
) {
  assert.equal(both(publicKey, message, signature, label), "true", label);
  assert.ok(verifyXeddsaWithEd25519(publicKey, message, signature), `${label}: answered natively`);
}

const random = seededRandom(0x5eed);
const randomBytes = (length: number) => Uint8Array.from({ length }, () => random.int(0, 255));

/** A deterministic X25519 key pair, public key computed by node:crypto. */
function keyPair(): { privateKey: Uint8Array; publicKey: Uint8Array } {
  const privateKey = randomBytes(32);
  const der = Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), privateKey]);
  const jwk = createPublicKey(createPrivateKey({ key: der, format: "der", type: "pkcs8" }))
    .export({ format: "jwk" });
  return { privateKey, publicKey: Buffer.from(jwk.x!, "base64url") };
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = bytes.slice();
  copy[bit >> 3] ^= 1 << (bit & 7);
  return copy;
}

Deno.test("valid curve25519-js signatures: both accept, with either sign bit", () => {
  const signBits = new Set<number>();
  for (let i = 0; i < 60; i++) {
    const { privateKey, publicKey } = keyPair();
    const message = randomBytes(random.int(0, 300));
    const signature = curve25519.sign(privateKey, message);
    signBits.add(signature[63] >> 7);
    bothNatively(publicKey, message, signature, `case ${i}`);
  }
  assert.deepEqual([...signBits].sort(), [0, 1], "both sign conventions were exercised");
});

Deno.test("signatures made as the XEdDSA specification signs (A.s = 0, random Z): both accept", () => {
  for (let i = 0; i < 15; i++) {
    const { privateKey, publicKey } = keyPair();
    const message = randomBytes(random.int(1, 100));
    const signature = ref.xeddsaSign(ref.clampedScalar(privateKey), message, randomBytes(64));
    assert.equal(signature[63] >> 7, 0, "the specification's s < q leaves the top bit clear");
    assert.ok(ref.xeddsaVerify(publicKey, message, signature), "the reference agrees");
    bothNatively(publicKey, message, signature, `spec case ${i}`);
  }
});

Deno.test("sign-bit conventions: libsignal's bit in the signature, not the specification's 0", () => {
  let withBit = 0;
  while (withBit < 5) {
    const { privateKey, publicKey } = keyPair();
    const message = randomBytes(32);
    const signature = curve25519.sign(privateKey, message);
    // Clearing or setting the carried sign bit names the other Edwards key: both refuse.
    assert.equal(both(publicKey, message, flipBit(signature, 511), "sign bit flipped"), "false");
    if (signature[63] >> 7 === 0) continue;
    withBit++;
    // The specification's verify refuses it (s >= 2^253); libsignal's convention, and ours, not.
    assert.equal(ref.xeddsaVerify(publicKey, message, signature), false);
    bothNatively(publicKey, message, signature, "sign bit 1");
  }
});

Deno.test("tampered messages, keys and signatures: the same answer from both", () => {
  for (let i = 0; i < 25; i++) {
    const { privateKey, publicKey } = keyPair();
    const message = randomBytes(random.int(1, 120));
    const signature = curve25519.sign(privateKey, message);
    const messageBit = random.int(0, message.length * 8 - 1);
    assert.equal(both(publicKey, flipBit(message, messageBit), signature, "message"), "false");
    assert.equal(both(publicKey, message.subarray(1), signature, "message cut"), "false");
    const keyBit = random.int(0, 254);
    assert.equal(
      both(flipBit(publicKey, keyBit), message, signature, `key bit ${keyBit}`),
      "false",
    );
    const signatureBit = random.int(0, 510);
    assert.equal(both(publicKey, message, flipBit(signature, signatureBit), "signature"), "false");
  }
});

Deno.test("the key's top bit is masked by both: flipping it changes nothing", () => {
  const { privateKey, publicKey } = keyPair();
  const message = randomBytes(40);
  const signature = curve25519.sign(privateKey, message);
  bothNatively(flipBit(publicKey, 255), message, signature, "key bit 255");
  // The specification itself refuses u >= p; curve25519-js does not, and neither do we.
  assert.equal(ref.xeddsaVerify(flipBit(publicKey, 255), message, signature), false);
});

Deno.test("malformed lengths and types: the same error from both", () => {
  const { privateKey, publicKey } = keyPair();
  const message = randomBytes(20);
  const signature = curve25519.sign(privateKey, message);
  const cases: [string, unknown, unknown, unknown][] = [
    ["key of 31 bytes", publicKey.subarray(1), message, signature],
    ["key of 33 bytes", Buffer.concat([Buffer.from([5]), publicKey]), message, signature],
    ["signature of 63 bytes", publicKey, message, signature.subarray(1)],
    ["signature of 65 bytes", publicKey, message, Buffer.concat([signature, Buffer.from([0])])],
    ["empty signature", publicKey, message, new Uint8Array(0)],
    ["key as an array", [...publicKey], message, signature],
    ["message as a string", publicKey, "hello", signature],
    ["signature as an ArrayBuffer", publicKey, message, signature.slice().buffer],
    ["undefined message", publicKey, undefined, signature],
  ];
  for (const [label, key, data, sig] of cases) {
    assert.match(both(key, data, sig, label), /^throws /, label);
  }
  // An empty message is valid bytes: signed and checked like any other.
  const empty = new Uint8Array(0);
  bothNatively(publicKey, empty, curve25519.sign(privateKey, empty), "empty message");
});

Deno.test("a non-canonical s (s + q), which node:crypto refuses, is answered by the original", () => {
  const { privateKey, publicKey } = keyPair();
  const message = randomBytes(50);
  const signature = curve25519.sign(privateKey, message);
  const signBit = signature[63] & 0x80;
  const s = ref.bytesToNumber(
    Uint8Array.from([...signature.subarray(32, 63), signature[63] & 0x7f]),
  );
  const malleated = signature.slice();
  malleated.set(ref.numberToBytes(s + ref.Q), 32);
  malleated[63] |= signBit;
  assert.equal(verifyXeddsaWithEd25519(publicKey, message, malleated), false, "native refuses");
  assert.equal(both(publicKey, message, malleated, "s + q"), "true", "as curve25519-js says");
});

Deno.test("R moved by a point of order 8: both refuse (both check R's bytes exactly)", () => {
  const torsion = ref.pointOfOrderEight();
  for (let i = 0; i < 4; i++) {
    const { privateKey, publicKey } = keyPair();
    const message = randomBytes(30);
    const signature = curve25519.sign(privateKey, message);
    const moved = signature.slice();
    moved.set(ref.encode(ref.add(ref.decode(signature.subarray(0, 32))!, torsion)));
    assert.equal(both(publicKey, message, moved, "R + T8"), "false");
  }
});

Deno.test("keys on the edges of the conversion: u = 0, u = p - 1, u = 9 + p (non-canonical)", () => {
  const message = randomBytes(16);
  // u = 0 is the point (0, -1) of order 2: a signature with [h]A = 0 holds for curve25519-js.
  const zero = new Uint8Array(32);
  let crafted = false;
  for (let tries = 0; tries < 200 && !crafted; tries++) {
    const r = ref.bytesToNumber(randomBytes(32)) % ref.Q;
    const rEncoded = ref.encode(ref.multiply(ref.BASE, r));
    const edwardsKey = ref.encode(ref.pointFrom(ref.P - 1n, 0n)!);
    const h = ref.bytesToNumber(ref.sha512(rEncoded, edwardsKey, message)) % ref.Q;
    if (h % 2n) continue;
    const signature = new Uint8Array(64);
    signature.set(rEncoded);
    signature.set(ref.numberToBytes(r), 32);
    assert.equal(both(zero, message, signature, "u = 0"), "true");
    crafted = true;
  }
  assert.ok(crafted, "a signature for the small-order key u = 0 was made");
  assert.equal(both(ref.numberToBytes(ref.P - 1n), message, randomBytes(64), "u = p - 1"), "false");
  // u = 9 is the base point (private scalar 1); 9 + p is the same number to curve25519-js.
  const signature = ref.xeddsaSign(1n, message, randomBytes(64));
  bothNatively(ref.numberToBytes(9n), message, signature, "u = 9");
  bothNatively(ref.numberToBytes(9n + ref.P), message, signature, "u = 9 + p");
  assert.equal(ref.xeddsaVerify(ref.numberToBytes(9n + ref.P), message, signature), false);
});

Deno.test("random cases in bulk: valid, tampered and garbage, the same answer from both", () => {
  const counts = { true: 0, false: 0 };
  for (let i = 0; i < 120; i++) {
    const { privateKey, publicKey } = keyPair();
    const message = randomBytes(random.int(0, 200));
    let signature = curve25519.sign(privateKey, message);
    let key = publicKey;
    switch (random.int(0, 4)) {
      case 0:
        break;
      case 1:
        signature = flipBit(signature, random.int(0, 511));
        break;
      case 2:
        key = flipBit(key, random.int(0, 255));
        break;
      case 3:
        signature = randomBytes(64);
        break;
      case 4:
        key = randomBytes(32);
    }
    counts[both(key, message, signature, `bulk ${i}`) as "true" | "false"]++;
  }
  assert.ok(counts.true > 20 && counts.false > 40, JSON.stringify(counts));
});
