/**
 * WhatsApp's media encryption as the simulated phones do it, whole files in memory (test sizes):
 * keys from Baileys' `getMediaKeys` (HKDF of the 32-byte media key), AES-256-CBC, and a MAC of
 * HMAC-SHA256(iv || ciphertext) cut to 10 bytes appended. `fileEncSha256` hashes ciphertext and
 * MAC; `fileSha256` the plaintext. Written apart from the gateway's `src/media/` on purpose: a
 * mistake there must not be repeated here.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac } from "node:crypto";
import { getMediaKeys, type MediaType } from "@whiskeysockets/baileys";

/** A file encrypted for upload, and what a message needs to point at it. */
export interface EncryptedFile {
  mediaKey: Uint8Array;
  /** Ciphertext followed by the 10-byte MAC: the bytes the media server stores. */
  encrypted: Uint8Array;
  fileSha256: Uint8Array;
  fileEncSha256: Uint8Array;
  fileLength: number;
}

const sha256 = (bytes: Uint8Array) => new Uint8Array(createHash("sha256").update(bytes).digest());
const equal = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((byte, i) => byte === b[i]);

/** Encrypts `plaintext` under a fresh media key, for the HKDF info of `mediaType`. */
export async function encryptFile(plaintext: Uint8Array, mediaType: MediaType) {
  const mediaKey = crypto.getRandomValues(new Uint8Array(32));
  const { iv, cipherKey, macKey } = await getMediaKeys(mediaKey, mediaType);
  const cipher = createCipheriv("aes-256-cbc", cipherKey, iv);
  const ciphertext = new Uint8Array(Buffer.concat([cipher.update(plaintext), cipher.final()]));
  const mac = createHmac("sha256", macKey!).update(iv).update(ciphertext).digest().subarray(0, 10);
  const encrypted = new Uint8Array(ciphertext.length + 10);
  encrypted.set(ciphertext);
  encrypted.set(mac, ciphertext.length);
  return {
    mediaKey,
    encrypted,
    fileSha256: sha256(plaintext),
    fileEncSha256: sha256(encrypted),
    fileLength: plaintext.length,
  } satisfies EncryptedFile;
}

/**
 * Checks and decrypts a downloaded file: its hash against `fileEncSha256`, the MAC, then the
 * plaintext against `fileSha256`. Throws naming the first check that failed.
 */
export async function decryptFile(
  encrypted: Uint8Array,
  expected: { mediaKey: Uint8Array; fileEncSha256: Uint8Array; fileSha256: Uint8Array },
  mediaType: MediaType,
): Promise<Uint8Array> {
  if (!equal(sha256(encrypted), expected.fileEncSha256)) throw new Error("fileEncSha256 mismatch");
  const { iv, cipherKey, macKey } = await getMediaKeys(expected.mediaKey, mediaType);
  const ciphertext = encrypted.subarray(0, encrypted.length - 10);
  const mac = createHmac("sha256", macKey!).update(iv).update(ciphertext).digest().subarray(0, 10);
  if (!equal(new Uint8Array(mac), encrypted.subarray(encrypted.length - 10))) {
    throw new Error("media MAC mismatch");
  }
  const decipher = createDecipheriv("aes-256-cbc", cipherKey, iv);
  const plaintext = new Uint8Array(Buffer.concat([decipher.update(ciphertext), decipher.final()]));
  if (!equal(sha256(plaintext), expected.fileSha256)) throw new Error("fileSha256 mismatch");
  return plaintext;
}
