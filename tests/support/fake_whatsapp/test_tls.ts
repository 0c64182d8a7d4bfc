/**
 * A certificate authority made fresh for one fake server, and a leaf certificate for 127.0.0.1
 * that it signs: the media server's HTTPS. Only processes told to (`DENO_CERT`, or an HTTP client
 * with `caCerts`) trust it. ECDSA P-256 from WebCrypto; the X.509 structures are DER-encoded here.
 */
import { concat } from "./noise.ts";

export interface TestTls {
  /** The CA certificate (PEM), to trust. */
  caCertPem: string;
  /** The server's certificate (PEM), for `Deno.serve({ cert })`. */
  certPem: string;
  /** The server's private key (PKCS#8 PEM), for `Deno.serve({ key })`. */
  keyPem: string;
}

const OID = {
  ecPublicKey: "1.2.840.10045.2.1",
  prime256v1: "1.2.840.10045.3.1.7",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
};

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;

/** Makes a CA and a certificate for `127.0.0.1` (and `localhost`) signed by it. */
export async function makeTestTls(): Promise<TestTls> {
  const ca = await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  const leaf = await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  const caName = name("WA Gateway test CA");
  const caCert = await certificate({
    serial: 1,
    issuer: caName,
    subject: caName,
    publicKey: ca.publicKey,
    signer: ca.privateKey,
    extensions: [
      extension(OID.basicConstraints, true, seq(bool(true))),
      extension(OID.keyUsage, true, bitString(new Uint8Array([0x06]), 1)), // keyCertSign, cRLSign
    ],
  });
  const leafCert = await certificate({
    serial: 2,
    issuer: caName,
    subject: name("127.0.0.1"),
    publicKey: leaf.publicKey,
    signer: ca.privateKey,
    extensions: [
      extension(OID.basicConstraints, true, seq()),
      extension(OID.keyUsage, true, bitString(new Uint8Array([0x80]), 7)), // digitalSignature
      extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth))),
      extension(
        OID.subjectAltName,
        false,
        seq(
          tlv(0x87, new Uint8Array([127, 0, 0, 1])), // iPAddress
          tlv(0x82, new TextEncoder().encode("localhost")), // dNSName
        ),
      ),
    ],
  });
  const key = new Uint8Array(await crypto.subtle.exportKey("pkcs8", leaf.privateKey));
  return {
    caCertPem: pem("CERTIFICATE", caCert),
    certPem: pem("CERTIFICATE", leafCert),
    keyPem: pem("PRIVATE KEY", key),
  };
}

async function certificate(options: {
  serial: number;
  issuer: Uint8Array;
  subject: Uint8Array;
  publicKey: CryptoKey;
  signer: CryptoKey;
  extensions: Uint8Array[];
}): Promise<Uint8Array> {
  const now = Date.now();
  const signatureAlgorithm = seq(oid(OID.ecdsaWithSha256));
  const tbs = seq(
    tlv(0xa0, integer(2)), // v3
    integer(options.serial),
    signatureAlgorithm,
    options.issuer,
    seq(utcTime(new Date(now - 3_600_000)), utcTime(new Date(now + 7 * 86_400_000))),
    options.subject,
    new Uint8Array(await crypto.subtle.exportKey("spki", options.publicKey)),
    tlv(0xa3, seq(...options.extensions)),
  );
  const raw = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, options.signer, tbs),
  );
  // WebCrypto signs r || s; X.509 wants SEQUENCE { INTEGER r, INTEGER s }.
  const signature = seq(unsignedInteger(raw.subarray(0, 32)), unsignedInteger(raw.subarray(32)));
  return seq(tbs, signatureAlgorithm, bitString(signature, 0));
}

function name(commonName: string): Uint8Array {
  return seq(set(seq(oid(OID.commonName), tlv(0x0c, new TextEncoder().encode(commonName)))));
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return seq(oid(id), ...(critical ? [bool(true)] : []), tlv(0x04, value));
}

function tlv(tag: number, content: Uint8Array): Uint8Array<ArrayBuffer> {
  const length = content.length;
  const header = length < 0x80
    ? [tag, length]
    : length < 0x100
    ? [tag, 0x81, length]
    : [tag, 0x82, length >> 8, length & 0xff];
  const out = new Uint8Array(header.length + length);
  out.set(header);
  out.set(content, header.length);
  return out;
}

const seq = (...items: Uint8Array[]) => tlv(0x30, concat(...items));
const set = (...items: Uint8Array[]) => tlv(0x31, concat(...items));
const bool = (value: boolean) => tlv(0x01, new Uint8Array([value ? 0xff : 0]));
const integer = (value: number) => unsignedInteger(new Uint8Array([value]));
const bitString = (bytes: Uint8Array, unusedBits: number) =>
  tlv(0x03, concat(new Uint8Array([unusedBits]), bytes));

function unsignedInteger(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  // A leading 1 bit would make it negative.
  return tlv(0x02, trimmed[0] & 0x80 ? concat(new Uint8Array([0]), trimmed) : trimmed);
}

function oid(dotted: string): Uint8Array {
  const [first, second, ...rest] = dotted.split(".").map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const groups = [arc & 0x7f];
    for (let value = arc >> 7; value > 0; value >>= 7) groups.unshift((value & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return tlv(0x06, new Uint8Array(bytes));
}

function utcTime(date: Date): Uint8Array {
  const two = (n: number) => String(n).padStart(2, "0");
  const text = `${two(date.getUTCFullYear() % 100)}${two(date.getUTCMonth() + 1)}` +
    `${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}` +
    `${two(date.getUTCSeconds())}Z`;
  return tlv(0x17, new TextEncoder().encode(text));
}

function pem(label: string, der: Uint8Array): string {
  const base64 = btoa(String.fromCharCode(...der));
  const lines = base64.match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN ${label}-----\n${lines}\n-----END ${label}-----\n`;
}
