/**
 * Sealed values: short strings (webhook secrets, queued event bodies) encrypted inside the JSON
 * files that hold them, when `SESSIONS_ENCRYPTION_KEY` is set. Synchronous (node:crypto), so the
 * metadata and outbox files keep their one-pass encoders.
 *
 * A sealed value is `sealed:v1:` followed by base64url of a random 12-byte nonce, the AES-256-GCM
 * ciphertext and its 16-byte tag. The key is derived from the encryption key with HKDF-SHA256 (so
 * it is never the key the auth files use), and the associated data is a context string naming
 * where the value belongs, so a value copied to another session, webhook or entry fails to open.
 */
import { Buffer } from "node:buffer";
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";
import { EncryptionKeyError } from "../domain/errors.ts";

const PREFIX = "sealed:v1:";
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HKDF_INFO = "wa-gateway sealed values v1";
const BLIND_PREFIX = "blind:v1:";
const BLIND_HKDF_INFO = "wa-gateway blinded values v1";

/** Encrypts and decrypts sealed values with one key. */
export interface ValueSealer {
  /** The sealed form of `plaintext`, bound to `context`. */
  seal(plaintext: string, context: string): string;
  /** The plaintext of a sealed value; throws `SealedValueError` if it does not open. */
  open(sealed: string, context: string): string;
  /**
   * A keyed digest of `plaintext` in `context` (HMAC-SHA256): equal inputs give equal digests, so
   * a database can match and group by a value it cannot read.
   */
  blind(plaintext: string, context: string): string;
}

/** A sealed value failed to decrypt: altered, moved, or sealed under another key. */
export class SealedValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SealedValueError";
  }
}

/**
 * Whether a stored string is a sealed value rather than plaintext.
 *
 * @example
 * ```ts
 * isSealed("sealed:v1:AAAA"); // true
 * isSealed("my-webhook-secret-123"); // false
 * ```
 */
export function isSealed(value: string): boolean {
  return value.startsWith(PREFIX);
}

/**
 * A sealer for a 32-byte encryption key.
 *
 * @example
 * ```ts
 * const sealer = createValueSealer(key);
 * const stored = sealer.seal("s3cret-0123456789", "webhook:shop-1:https://example.com/hook");
 * sealer.open(stored, "webhook:shop-1:https://example.com/hook"); // "s3cret-0123456789"
 * ```
 */
export function createValueSealer(key: Uint8Array): ValueSealer {
  const sealKey = Buffer.from(hkdfSync("sha256", key, new Uint8Array(0), HKDF_INFO, 32));
  const blindKey = Buffer.from(hkdfSync("sha256", key, new Uint8Array(0), BLIND_HKDF_INFO, 32));
  return {
    blind(plaintext, context) {
      const digest = createHmac("sha256", blindKey).update(context, "utf8").update("\u0000")
        .update(plaintext, "utf8").digest();
      return BLIND_PREFIX + digest.toString("base64url");
    },
    seal(plaintext, context) {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv("aes-256-gcm", sealKey, nonce);
      cipher.setAAD(Buffer.from(context, "utf8"));
      const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
      const sealed = Buffer.concat([nonce, body, cipher.getAuthTag()]);
      return PREFIX + sealed.toString("base64url");
    },
    open(sealed, context) {
      if (!isSealed(sealed)) throw new SealedValueError("not a sealed value");
      const bytes = Buffer.from(sealed.slice(PREFIX.length), "base64url");
      if (bytes.length < NONCE_BYTES + TAG_BYTES) {
        throw new SealedValueError("sealed value too short");
      }
      try {
        const decipher = createDecipheriv(
          "aes-256-gcm",
          sealKey,
          bytes.subarray(0, NONCE_BYTES),
        );
        decipher.setAAD(Buffer.from(context, "utf8"));
        decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
        const body = bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES);
        return Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8");
      } catch {
        throw new SealedValueError("sealed value does not decrypt with this key and context");
      }
    },
  };
}

/**
 * Opens a sealed value with the first of the sealers that can (a key rotation tries the new key,
 * then the old one); `null` when none can.
 *
 * @example
 * ```ts
 * openWithEither(stored, context, newSealer, oldSealer) ?? "neither key opens it";
 * ```
 */
function openWithEither(
  sealed: string,
  context: string,
  ...sealers: (ValueSealer | undefined)[]
): string | null {
  for (const sealer of sealers) {
    if (!sealer) continue;
    try {
      return sealer.open(sealed, context);
    } catch (error) {
      if (!(error instanceof SealedValueError)) throw error;
    }
  }
  return null;
}

/**
 * A stored value moved to another key, for a key rotation: opened with `to` (already moved by a
 * rotation that was cut short) or `from` when sealed, taken as it is when plaintext, then sealed
 * with `to`, or left plaintext without it. `null` when it is sealed and neither key opens it.
 *
 * @example
 * ```ts
 * resealValue(stored, context, oldSealer, newSealer) ?? stored; // keep what cannot be opened
 * ```
 */
export function resealValue(
  stored: string,
  context: string,
  from: ValueSealer | undefined,
  to: ValueSealer | undefined,
): string | null {
  const plain = isSealed(stored) ? openWithEither(stored, context, to, from) : stored;
  if (plain === null) return null;
  return to ? to.seal(plain, context) : plain;
}

/** Sealed values were found but no encryption key is set. */
export function sealedValueNeedsKey(where: string): EncryptionKeyError {
  return new EncryptionKeyError(
    "encryption_key_required",
    `${where} holds values encrypted at rest but no SESSIONS_ENCRYPTION_KEY is set`,
  );
}
