/**
 * A slow, plain reference of Edwards25519 arithmetic and of XEdDSA as its specification writes it
 * ("The XEdDSA and VXEdDSA Signature Schemes", Trevor Perrin, revision 1: sections 2.3 and 3),
 * written from the specification and RFC 8032 with BigInt. The equivalence tests use it to build
 * vectors no library makes: signatures with the specification's sign convention, non-canonical
 * scalars and keys, small-order keys and points. Never for production: nothing here is
 * constant-time.
 */
import { createHash } from "node:crypto";

export const P = 2n ** 255n - 19n;
/** The prime order of the base point (q in XEdDSA, L in RFC 8032). */
export const Q = 2n ** 252n + 27742317777372353535851937790883648493n;

const mod = (a: bigint, m = P) => ((a % m) + m) % m;

function power(base: bigint, exponent: bigint, m = P): bigint {
  let result = 1n;
  base = mod(base, m);
  while (exponent > 0n) {
    if (exponent & 1n) result = (result * base) % m;
    base = (base * base) % m;
    exponent >>= 1n;
  }
  return result;
}

/** inv(a) as the specification defines it: a^(p-2), so inv(0) = 0. */
export const inv = (a: bigint) => power(a, P - 2n);
const D = mod(-121665n * inv(121666n));
const SQRT_M1 = power(2n, (P - 1n) / 4n);

/** A point in extended coordinates (X:Y:Z:T), x = X/Z, y = Y/Z, xy = T/Z. */
export interface Point {
  x: bigint;
  y: bigint;
  z: bigint;
  t: bigint;
}

export const IDENTITY: Point = { x: 0n, y: 1n, z: 1n, t: 0n };

/** RFC 8032's addition on -x^2 + y^2 = 1 + d x^2 y^2 (unified: it doubles too). */
export function add(p1: Point, p2: Point): Point {
  const a = mod((p1.y - p1.x) * (p2.y - p2.x));
  const b = mod((p1.y + p1.x) * (p2.y + p2.x));
  const c = mod(2n * D * p1.t * p2.t);
  const d = mod(2n * p1.z * p2.z);
  const [e, f, g, h] = [b - a, d - c, d + c, b + a];
  return { x: mod(e * f), y: mod(g * h), z: mod(f * g), t: mod(e * h) };
}

export function negate(p: Point): Point {
  return { x: mod(-p.x), y: p.y, z: p.z, t: mod(-p.t) };
}

export function multiply(p: Point, scalar: bigint): Point {
  let result = IDENTITY;
  for (let addend = p; scalar > 0n; scalar >>= 1n, addend = add(addend, addend)) {
    if (scalar & 1n) result = add(result, addend);
  }
  return result;
}

export function affine(p: Point): { x: bigint; y: bigint } {
  const zInv = inv(p.z);
  return { x: mod(p.x * zInv), y: mod(p.y * zInv) };
}

export function bytesToNumber(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
  return value;
}

export function numberToBytes(value: bigint, length = 32): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++, value >>= 8n) bytes[i] = Number(value & 0xffn);
  return bytes;
}

/** The 32-byte encoding: y, with the sign (parity) of x in the top bit. */
export function encode(p: Point): Uint8Array {
  const { x, y } = affine(p);
  return numberToBytes(y | ((x & 1n) << 255n));
}

/** The point with this y and sign bit, or undefined when there is none (RFC 8032, 5.1.3). */
export function pointFrom(y: bigint, sign: bigint): Point | undefined {
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = mod(u * power(v, 3n) * power(u * power(v, 7n), (P - 5n) / 8n));
  if (mod(v * x * x) !== u) x = mod(x * SQRT_M1);
  if (mod(v * x * x) !== u) return undefined;
  if (x === 0n && sign === 1n) return undefined;
  if ((x & 1n) !== sign) x = mod(-x);
  return { x, y: mod(y), z: 1n, t: mod(x * y) };
}

export function decode(bytes: Uint8Array): Point | undefined {
  const value = bytesToNumber(bytes);
  const y = value & ((1n << 255n) - 1n);
  return y >= P ? undefined : pointFrom(y, value >> 255n);
}

/** The base point B: y = 4/5, x even. */
export const BASE = pointFrom(mod(4n * inv(5n)), 0n)!;

export function equal(p1: Point, p2: Point): boolean {
  return mod(p1.x * p2.z - p2.x * p1.z) === 0n && mod(p1.y * p2.z - p2.y * p1.z) === 0n;
}

/** The Montgomery u-coordinate of an Edwards point: u = (1 + y) / (1 - y). */
export function montgomeryU(p: Point): Uint8Array {
  const { y } = affine(p);
  return numberToBytes(mod((1n + y) * inv(1n - y)));
}

const sha512 = (...parts: Uint8Array[]) => {
  const hash = createHash("sha512");
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
};
/** hash_i(X) = hash(2^b - 1 - i || X), section 2.5. */
const hashI = (i: number, ...parts: Uint8Array[]) =>
  sha512(numberToBytes(2n ** 256n - 1n - BigInt(i)), ...parts);

/** Section 3's calculate_key_pair: the Edwards key A with sign bit 0, and the matching a. */
export function calculateKeyPair(k: bigint): { publicKey: Uint8Array; a: bigint } {
  const e = multiply(BASE, k);
  const negative = affine(e).x & 1n;
  const a = mod(negative ? -k : k, Q);
  const publicKey = encode(e);
  publicKey[31] &= 0x7f;
  return { publicKey, a };
}

/** Section 3's xeddsa_sign(k, M, Z): R || s, with s < q (so the top bit is always 0). */
export function xeddsaSign(k: bigint, message: Uint8Array, z: Uint8Array): Uint8Array {
  const { publicKey, a } = calculateKeyPair(k);
  const r = mod(bytesToNumber(hashI(1, numberToBytes(a), message, z)), Q);
  const rEncoded = encode(multiply(BASE, r));
  const h = mod(bytesToNumber(sha512(rEncoded, publicKey, message)), Q);
  const s = mod(r + h * a, Q);
  const signature = new Uint8Array(64);
  signature.set(rEncoded);
  signature.set(numberToBytes(s), 32);
  return signature;
}

/** Section 3's xeddsa_verify(u, M, (R || s)), with the specification's range checks. */
export function xeddsaVerify(u: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const uNumber = bytesToNumber(u);
  const s = bytesToNumber(signature.subarray(32));
  if (uNumber >= P || s >= 2n ** 253n) return false;
  const y = mod((uNumber - 1n) * inv(uNumber + 1n));
  const a = pointFrom(y, 0n);
  if (!a) return false;
  const publicKey = encode(a);
  const rEncoded = signature.subarray(0, 32);
  const h = mod(bytesToNumber(sha512(rEncoded, publicKey, message)), Q);
  const check = add(multiply(BASE, s), negate(multiply(a, h)));
  return encode(check).every((byte, i) => byte === rEncoded[i]);
}

/** A point of order exactly 8 (in the torsion subgroup), found from a point of full order. */
export function pointOfOrderEight(): Point {
  for (let y = 2n;; y++) {
    const p = pointFrom(y, 0n);
    if (!p) continue;
    const torsion = multiply(p, Q);
    if (!equal(multiply(torsion, 4n), IDENTITY)) return torsion;
  }
}

/** The clamped scalar of an X25519 private key, as `curve25519-js` signs with it. */
export function clampedScalar(privateKey: Uint8Array): bigint {
  const bytes = privateKey.slice(0, 32);
  bytes[0] &= 248;
  bytes[31] = (bytes[31] & 127) | 64;
  return bytesToNumber(bytes);
}

export { sha512 };
