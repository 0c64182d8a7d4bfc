import { aesDecryptGCM, aesEncryptGCM, Curve, hkdf, sha256 } from "@whiskeysockets/baileys";

/** The protocol name is exactly 32 bytes, so it seeds the hash as is (Noise's rule). */
const PROTOCOL_NAME = new TextEncoder().encode("Noise_XX_25519_AESGCM_SHA256\0\0\0\0");
/** The intro header Baileys sends first ("WA", 6, dictionary version 3); part of the transcript. */
export const WA_HEADER = new Uint8Array([0x57, 0x41, 6, 3]);

type KeyPair = { public: Uint8Array; private: Uint8Array };

function iv(counter: number): Uint8Array {
  const bytes = new Uint8Array(12);
  new DataView(bytes.buffer).setUint32(8, counter);
  return bytes;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** The server's half of `Noise_XX_25519_AESGCM_SHA256`, mirroring Baileys' `makeNoiseHandler`. */
export class NoiseHandshake {
  #hash: Uint8Array = PROTOCOL_NAME;
  #salt: Uint8Array = PROTOCOL_NAME;
  #key: Uint8Array = PROTOCOL_NAME;
  #counter = 0;

  authenticate(data: Uint8Array): void {
    this.#hash = sha256(Buffer.from(concat(this.#hash, data)));
  }

  mixIntoKey(material: Uint8Array): void {
    const out = hkdf(Buffer.from(material), 64, { salt: Buffer.from(this.#salt), info: "" });
    this.#salt = out.subarray(0, 32);
    this.#key = out.subarray(32);
    this.#counter = 0;
  }

  /** DH of one of our key pairs with a peer's public key, mixed into the key. */
  mixDh(own: KeyPair, peerPublic: Uint8Array): void {
    this.mixIntoKey(Curve.sharedKey(Buffer.from(own.private), Buffer.from(peerPublic)));
  }

  encrypt(plaintext: Uint8Array): Uint8Array {
    const result = aesEncryptGCM(
      Buffer.from(plaintext),
      Buffer.from(this.#key),
      iv(this.#counter++),
      Buffer.from(this.#hash),
    );
    this.authenticate(result);
    return result;
  }

  decrypt(ciphertext: Uint8Array): Uint8Array {
    const result = aesDecryptGCM(
      Buffer.from(ciphertext),
      Buffer.from(this.#key),
      iv(this.#counter++),
      Buffer.from(this.#hash),
    );
    this.authenticate(ciphertext);
    return result;
  }

  /** Ends the handshake: the first key encrypts client → server, the second server → client. */
  split(): TransportCipher {
    const out = hkdf(Buffer.alloc(0), 64, { salt: Buffer.from(this.#salt), info: "" });
    return new TransportCipher(out.subarray(0, 32), out.subarray(32));
  }
}

/** Encryption of frames after the handshake: one key and counter per direction, no AAD. */
export class TransportCipher {
  #readCounter = 0;
  #writeCounter = 0;
  constructor(readonly readKey: Uint8Array, readonly writeKey: Uint8Array) {}

  decrypt(ciphertext: Uint8Array): Uint8Array {
    return aesDecryptGCM(
      Buffer.from(ciphertext),
      Buffer.from(this.readKey),
      iv(this.#readCounter++),
      Buffer.alloc(0),
    );
  }

  encrypt(plaintext: Uint8Array): Uint8Array {
    return aesEncryptGCM(
      Buffer.from(plaintext),
      Buffer.from(this.writeKey),
      iv(this.#writeCounter++),
      Buffer.alloc(0),
    );
  }
}

/**
 * Splits the client's byte stream into frames (3-byte big-endian length, then the payload),
 * after skipping the one-time intro header ("WA" 6 3, or "ED" routing info then "WA" 6 3).
 */
export class FrameReader {
  #buffer: Uint8Array = new Uint8Array(0);
  #introSkipped = false;

  push(bytes: Uint8Array): Uint8Array[] {
    this.#buffer = concat(this.#buffer, bytes);
    if (!this.#introSkipped) {
      if (this.#buffer.length < 4) return [];
      if (this.#buffer[0] === 0x45 && this.#buffer[1] === 0x44) {
        if (this.#buffer.length < 7) return [];
        const routingLength = (this.#buffer[4] << 16) | (this.#buffer[5] << 8) | this.#buffer[6];
        if (this.#buffer.length < 7 + routingLength + 4) return [];
        this.#buffer = this.#buffer.subarray(7 + routingLength + 4);
      } else {
        this.#buffer = this.#buffer.subarray(4);
      }
      this.#introSkipped = true;
    }
    const frames: Uint8Array[] = [];
    while (this.#buffer.length >= 3) {
      const size = (this.#buffer[0] << 16) | (this.#buffer[1] << 8) | this.#buffer[2];
      if (this.#buffer.length < size + 3) break;
      frames.push(this.#buffer.slice(3, size + 3));
      this.#buffer = this.#buffer.subarray(size + 3);
    }
    return frames;
  }
}

/** A frame as the server sends it: the 3-byte length, then the payload. */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(payload.length + 3);
  frame[0] = (payload.length >>> 16) & 0xff;
  frame[1] = (payload.length >>> 8) & 0xff;
  frame[2] = payload.length & 0xff;
  frame.set(payload, 3);
  return frame;
}

export { concat };
