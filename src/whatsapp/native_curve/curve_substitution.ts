/**
 * The runtime substitution that makes libsignal's XEdDSA checks native: `curve25519-js`'s
 * `verify`, which libsignal's `curve.verifySignature` calls (and with it Baileys' `Curve.verify`,
 * two per login for the server's certificate chain), is replaced in this thread by one that asks
 * `node:crypto`'s Ed25519 first (about 0.05 ms instead of 6-30 ms) and the original whenever
 * that says no, so every answer is the original's. node_modules is untouched; see
 * docs/architecture.md, "Runtime substitutions", for why not `links` in deno.json.
 *
 * Guarded: it applies only if the module has the expected shape, the native path passes a
 * known-answer test, and a check through Baileys' own `Curve.verify` reaches the replacement;
 * otherwise the original stays and the status says why.
 */
import { Curve } from "@whiskeysockets/baileys";
// The same package and version libsignal requires, so Deno's npm resolution gives this module the
// very `module.exports` object libsignal holds (checked below through Baileys).
import curve25519Exports from "curve25519-js";
import { Buffer } from "node:buffer";
import type { SubstitutionStatus } from "../substitution_status.ts";
import type { VerificationCounters } from "./verification_counters.ts";
import { verifyXeddsaWithEd25519 } from "./xeddsa_ed25519.ts";

type Verify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

const curve25519 = curve25519Exports as unknown as { verify: Verify };
const REPLACEMENT = Symbol("wa-gateway native XEdDSA verify");

/** `curve25519-js`'s own `verify`, as loaded (for fallbacks and the equivalence tests). */
export const originalVerify: Verify = (curve25519.verify as { [REPLACEMENT]?: Verify })[
  REPLACEMENT
] ?? curve25519.verify;

/** A signature made by `curve25519-js` (sign bit 1), to check the native path at start. */
const SELF_TEST = {
  publicKey: Buffer.from("AXVLC0UGFGYTqTQj0VwxFOahRsUhvlXxxIfrXljM4i8=", "base64"),
  message: new TextEncoder().encode("wa-gateway native curve self-test"),
  signature: Buffer.from(
    "PFHdamVuYcM8XFi6rRoIYbutEjbJOPuZ38Wbs7frUjSLwNadxNnko/mYyij9Znn1/Q/O7tC7sjxJpUo/ZMVbgA==",
    "base64",
  ),
};

let installed: SubstitutionStatus | undefined;
let counters: VerificationCounters | undefined;
/** Verifications the replacement answered in this thread (for the routing check). */
let answered = 0;

function isBytes(value: unknown): value is Uint8Array {
  // The test curve25519-js applies (`checkArrayTypes`): a Buffer passes, a plain array does not.
  return Object.prototype.toString.call(value) === "[object Uint8Array]";
}

/** The replacement: native when node:crypto accepts, otherwise the original decides (or throws). */
function verifyNativelyFirst(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  answered++;
  if (
    isBytes(publicKey) && isBytes(message) && isBytes(signature) &&
    verifyXeddsaWithEd25519(publicKey, message, signature)
  ) {
    counters?.count("node_crypto");
    return true;
  }
  counters?.count("curve25519_js");
  return originalVerify(publicKey, message, signature);
}
Object.defineProperty(verifyNativelyFirst, REPLACEMENT, { value: originalVerify });

function problem(): string | undefined {
  if (typeof curve25519.verify !== "function") return "curve25519-js has no verify function";
  const { publicKey, message, signature } = SELF_TEST;
  if (!verifyXeddsaWithEd25519(publicKey, message, signature)) {
    return "node:crypto Ed25519 refused a valid signature";
  }
  const tampered = Buffer.from(signature);
  tampered[5] ^= 1;
  if (verifyXeddsaWithEd25519(publicKey, message, tampered)) {
    return "node:crypto Ed25519 accepted a tampered signature";
  }
  return undefined;
}

/**
 * Replaces `curve25519-js`'s `verify` in this thread (once; later calls return the first
 * status), counting each verification in `verificationCounters` when given. Call it before the
 * first socket logs in, in every thread that runs Baileys.
 *
 * @example
 * ```ts
 * const status = installNativeCurve(counters);
 * if (!status.active) logger.warn({ reason: status.reason }, "XEdDSA checks stay in JavaScript");
 * ```
 */
export function installNativeCurve(
  verificationCounters?: VerificationCounters,
): SubstitutionStatus {
  if (installed) return installed;
  const refused = problem();
  if (refused) return installed = { active: false, reason: refused };
  curve25519.verify = verifyNativelyFirst;
  const before = answered;
  const { publicKey, message, signature } = SELF_TEST;
  if (!Curve.verify(publicKey, message, signature) || answered === before) {
    curve25519.verify = originalVerify;
    return installed = {
      active: false,
      reason: "Baileys' Curve.verify does not reach curve25519-js's verify (another copy?)",
    };
  }
  // Counting starts after the self-test, so the counts are the gateway's own checks.
  counters = verificationCounters;
  return installed = { active: true };
}
