/**
 * WhatsApp's end-to-end encryption of media files, streamed chunk by chunk so that no file is
 * ever whole in memory. A random 32-byte media key is expanded with HKDF-SHA256 (no salt, info
 * `WhatsApp <Image|Video|Audio|Document> Keys`, 112 bytes) into an IV (16), an AES-256-CBC key
 * (32) and a MAC key (32). The stored file is the CBC ciphertext followed by the first 10 bytes of
 * HMAC-SHA256(macKey, iv || ciphertext); `fileEncSha256` hashes that whole file, `fileSha256`
 * the plaintext.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync } from "node:crypto";
import type { Cipheriv, Decipheriv, Hash, Hmac } from "node:crypto";
import type { MediaKind } from "../domain/media.ts";
import { concatBytes } from "../lib/bytes.ts";

const MAC_LENGTH = 10;

const KEY_INFO: Record<MediaKind, string> = {
  image: "Image",
  sticker: "Image",
  video: "Video",
  audio: "Audio",
  voice: "Audio",
  document: "Document",
};

/** The three keys a media key expands to. */
export interface MediaKeys {
  iv: Uint8Array;
  cipherKey: Uint8Array;
  macKey: Uint8Array;
}

/**
 * Expands a media key for a kind of media (images and stickers share keys, as do audio and
 * voice notes).
 *
 * @example
 * ```ts
 * const { iv, cipherKey, macKey } = expandMediaKey(crypto.getRandomValues(new Uint8Array(32)), "image");
 * ```
 */
export function expandMediaKey(mediaKey: Uint8Array, kind: MediaKind): MediaKeys {
  const info = `WhatsApp ${KEY_INFO[kind]} Keys`;
  const expanded = new Uint8Array(hkdfSync("sha256", mediaKey, new Uint8Array(0), info, 112));
  return {
    iv: expanded.slice(0, 16),
    cipherKey: expanded.slice(16, 48),
    macKey: expanded.slice(48, 80),
  };
}

/** What an encrypted file's message carries about it. */
export interface EncryptedFileDigest {
  fileSha256: Uint8Array;
  fileEncSha256: Uint8Array;
  fileLength: number;
}

/**
 * Encrypts a file as it streams through: `update` returns the ciphertext so far, `final` the
 * rest with the MAC, after which `digest` holds the hashes.
 *
 * @example
 * ```ts
 * const encryptor = new MediaEncryptor(mediaKey, "document");
 * await out.write(encryptor.update(chunk));
 * await out.write(encryptor.final());
 * encryptor.digest.fileEncSha256;
 * ```
 */
export class MediaEncryptor {
  readonly #cipher: Cipheriv;
  readonly #mac: Hmac;
  readonly #plainHash: Hash = createHash("sha256");
  readonly #encHash: Hash = createHash("sha256");
  #length = 0;
  #digest?: EncryptedFileDigest;

  constructor(mediaKey: Uint8Array, kind: MediaKind) {
    const { iv, cipherKey, macKey } = expandMediaKey(mediaKey, kind);
    this.#cipher = createCipheriv("aes-256-cbc", cipherKey, iv);
    this.#mac = createHmac("sha256", macKey).update(iv);
  }

  /** Encrypts the next plaintext chunk. */
  update(plaintext: Uint8Array): Uint8Array {
    this.#length += plaintext.length;
    this.#plainHash.update(plaintext);
    return this.#out(this.#cipher.update(plaintext));
  }

  /** The last ciphertext block and the MAC. */
  final(): Uint8Array {
    const last = this.#out(this.#cipher.final());
    const mac = this.#mac.digest().subarray(0, MAC_LENGTH);
    this.#encHash.update(mac);
    this.#digest = {
      fileSha256: new Uint8Array(this.#plainHash.digest()),
      fileEncSha256: new Uint8Array(this.#encHash.digest()),
      fileLength: this.#length,
    };
    const tail = new Uint8Array(last.length + MAC_LENGTH);
    tail.set(last);
    tail.set(mac, last.length);
    return tail;
  }

  /** The hashes and length, once `final` was called. */
  get digest(): EncryptedFileDigest {
    if (!this.#digest) throw new Error("MediaEncryptor.digest read before final()");
    return this.#digest;
  }

  #out(ciphertext: Uint8Array): Uint8Array {
    this.#mac.update(ciphertext);
    this.#encHash.update(ciphertext);
    return new Uint8Array(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength);
  }
}

/**
 * Decrypts a downloaded file as it streams through and checks it at the end: its SHA-256, the
 * MAC, the padding and the plaintext's SHA-256. Nothing it returned may be used before `final`
 * reports no problem.
 *
 * @example
 * ```ts
 * const decryptor = new MediaDecryptor(mediaKey, "image");
 * await out.write(decryptor.update(chunk));
 * const { plaintext, problem } = decryptor.final(expected);
 * ```
 */
export class MediaDecryptor {
  readonly #decipher: Decipheriv;
  readonly #mac: Hmac;
  readonly #plainHash: Hash = createHash("sha256");
  readonly #encHash: Hash = createHash("sha256");
  /** The last bytes seen, held back: the final 10 are the MAC, not ciphertext. */
  #held = new Uint8Array(0);
  #length = 0;

  constructor(mediaKey: Uint8Array, kind: MediaKind) {
    const { iv, cipherKey, macKey } = expandMediaKey(mediaKey, kind);
    this.#decipher = createDecipheriv("aes-256-cbc", cipherKey, iv);
    this.#mac = createHmac("sha256", macKey).update(iv);
  }

  /** Decrypts the next chunk of the downloaded file (unchecked until `final`). */
  update(encrypted: Uint8Array): Uint8Array {
    this.#encHash.update(encrypted);
    const all = concatBytes(this.#held, encrypted);
    const cut = Math.max(0, all.length - MAC_LENGTH);
    this.#held = all.slice(cut);
    return this.#decrypt(all.subarray(0, cut));
  }

  /**
   * The last plaintext, and what is wrong with the file compared to what its message said, or
   * `null` when it is exactly that file.
   */
  final(expected: EncryptedFileDigest): { plaintext: Uint8Array; problem: string | null } {
    if (this.#held.length < MAC_LENGTH) {
      return { plaintext: new Uint8Array(0), problem: "too short" };
    }
    if (!equal(new Uint8Array(this.#encHash.digest()), expected.fileEncSha256)) {
      return { plaintext: new Uint8Array(0), problem: "fileEncSha256 mismatch" };
    }
    if (!equal(this.#mac.digest().subarray(0, MAC_LENGTH), this.#held)) {
      return { plaintext: new Uint8Array(0), problem: "MAC mismatch" };
    }
    let last: Uint8Array;
    try {
      last = this.#plain(this.#decipher.final());
    } catch {
      return { plaintext: new Uint8Array(0), problem: "bad padding" };
    }
    if (!equal(new Uint8Array(this.#plainHash.digest()), expected.fileSha256)) {
      return { plaintext: last, problem: "fileSha256 mismatch" };
    }
    if (this.#length !== expected.fileLength) {
      return { plaintext: last, problem: "length mismatch" };
    }
    return { plaintext: last, problem: null };
  }

  #decrypt(ciphertext: Uint8Array): Uint8Array {
    if (ciphertext.length === 0) return ciphertext;
    this.#mac.update(ciphertext);
    return this.#plain(this.#decipher.update(ciphertext));
  }

  #plain(bytes: Uint8Array): Uint8Array {
    this.#length += bytes.length;
    this.#plainHash.update(bytes);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
