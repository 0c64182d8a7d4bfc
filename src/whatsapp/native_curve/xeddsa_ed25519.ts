/**
 * XEdDSA verification (libsignal's Curve25519 signatures) as an Ed25519 verification by
 * `node:crypto`, which Deno runs natively (ring). See docs/architecture.md, "Runtime
 * substitutions".
 *
 * An XEdDSA public key is a Montgomery u-coordinate. The XEdDSA specification ("The XEdDSA and
 * VXEdDSA Signature Schemes", section 2.3 `convert_mont`) turns it into the Edwards point with
 * y = (u - 1) / (u + 1), where u is taken modulo 2^255 (its top bit masked) and inv(0) is 0. The
 * specification fixes the point's sign bit to 0; libsignal's convention, which `curve25519-js`
 * implements (`curve25519_sign_open`), carries the sign bit of the signer's Edwards key in the
 * top bit of the signature's last byte instead, and clears it before the Ed25519 check.
 */
import { Buffer } from "node:buffer";
import { createPublicKey, type KeyObject, verify } from "node:crypto";

const P = 2n ** 255n - 19n;
/** DER SubjectPublicKeyInfo header of a 32-byte Ed25519 key (RFC 8410). */
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
/** Keys converted recently: a login checks the same two server keys every time. */
const KEY_CACHE_LIMIT = 256;
const keyCache = new Map<string, KeyObject | null>();

function littleEndianToBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
  return value;
}

function bigIntToLittleEndian(value: bigint): Uint8Array {
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    bytes[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return bytes;
}

/** a^-1 mod p by the extended Euclidean algorithm, 0 for 0 (the specification's `inv`). */
function invert(a: bigint): bigint {
  let [r0, r1, s0, s1] = [P, a % P, 0n, 1n];
  if (r1 === 0n) return 0n;
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return ((s0 % P) + P) % P;
}

/**
 * The Edwards y-coordinate (32 bytes, little-endian, sign bit 0) of the Montgomery public key
 * `u`: y = (u - 1) / (u + 1) mod p, with u's top bit masked as `curve25519-js` and the XEdDSA
 * specification do.
 *
 * @example
 * ```ts
 * montgomeryToEdwardsY(new Uint8Array(32).fill(0)); // y = -1: the point (0, -1)
 * ```
 */
export function montgomeryToEdwardsY(u: Uint8Array): Uint8Array {
  const masked = u.slice(0, 32);
  masked[31] &= 0x7f;
  const x = littleEndianToBigInt(masked) % P;
  const y = ((((x - 1n) % P + P) % P) * invert(x + 1n)) % P;
  return bigIntToLittleEndian(y);
}

/** The Ed25519 key object for an XEdDSA key with the given sign bit; null if it is no point. */
function edwardsKey(publicKey: Uint8Array, signBit: number): KeyObject | null {
  const cacheKey = Buffer.from(publicKey).toString("hex") + signBit;
  const cached = keyCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const edwards = montgomeryToEdwardsY(publicKey);
  edwards[31] |= signBit;
  let key: KeyObject | null;
  try {
    key = createPublicKey({
      key: Buffer.concat([ED25519_SPKI_PREFIX, edwards]),
      format: "der",
      type: "spki",
    });
  } catch {
    key = null;
  }
  if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.delete(keyCache.keys().next().value!);
  keyCache.set(cacheKey, key);
  return key;
}

/**
 * Whether `node:crypto`'s Ed25519 accepts the XEdDSA `signature` (64 bytes, libsignal's sign-bit
 * convention) of `message` under the Montgomery `publicKey` (32 bytes). True implies that
 * `curve25519-js` accepts it too (the same cofactorless equation on the same point and bytes).
 * False is not final: node:crypto is stricter (it refuses s >= L, which `curve25519-js` reduces),
 * so callers ask the original implementation before rejecting.
 *
 * @example
 * ```ts
 * if (!verifyXeddsaWithEd25519(key, message, signature)) original.verify(key, message, signature);
 * ```
 */
export function verifyXeddsaWithEd25519(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  const key = edwardsKey(publicKey, signature[63] & 0x80);
  if (!key) return false;
  const ed25519Signature = Buffer.from(signature);
  ed25519Signature[63] &= 0x7f;
  try {
    return verify(null, message, key, ed25519Signature);
  } catch {
    return false;
  }
}
