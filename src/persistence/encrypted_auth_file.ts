/**
 * The encrypted auth file format, AES-256-GCM through WebCrypto:
 *
 * ```
 * offset  size  content
 * 0       7     magic "\0WAGENC" (a NUL first: no JSON or text file starts like this)
 * 7       1     format version (1)
 * 8       12    random nonce
 * 20      n+16  ciphertext and 16-byte tag
 * ```
 *
 * The associated data is the 8-byte header, the session id and the file name, so a file moved to
 * another session or renamed, or a header altered, fails to decrypt.
 */
import { PersistenceError } from "../domain/errors.ts";
import type { AuthFileCodec, AuthFileRef } from "./auth_file_codec.ts";

/** Size of an encryption key, in bytes (AES-256). */
export const ENCRYPTION_KEY_BYTES = 32;

const MAGIC = new Uint8Array([0x00, 0x57, 0x41, 0x47, 0x45, 0x4e, 0x43]); // "\0WAGENC"
const VERSION = 1;
const HEADER_BYTES = MAGIC.length + 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const encoder = new TextEncoder();

/**
 * Whether stored bytes are in the encrypted format (of any version), as opposed to plaintext.
 *
 * @example
 * ```ts
 * isEncryptedAuthFile(new TextEncoder().encode('{"noiseKey":…}')); // false
 * ```
 */
export function isEncryptedAuthFile(stored: Uint8Array): boolean {
  return stored.length >= MAGIC.length && MAGIC.every((byte, i) => stored[i] === byte);
}

/**
 * A codec that encrypts every auth file with AES-256-GCM under `key` (32 bytes). It reads
 * plaintext files as they are, so that folders written before encryption was turned on keep
 * working until the store migrates them on open.
 *
 * @example
 * ```ts
 * const codec = await createAesGcmCodec(key);
 * new FileSessionStore({ dataDir, logger, codec });
 * ```
 */
export async function createAesGcmCodec(key: Uint8Array): Promise<AuthFileCodec> {
  if (key.length !== ENCRYPTION_KEY_BYTES) {
    throw new RangeError(`An encryption key must be ${ENCRYPTION_KEY_BYTES} bytes`);
  }
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    key as Uint8Array<ArrayBuffer>,
    { name: "AES-GCM" },
    false,
    ["encrypt", "decrypt"],
  );
  return {
    encrypts: true,
    async encode(data, file) {
      const header = new Uint8Array(HEADER_BYTES);
      header.set(MAGIC);
      header[MAGIC.length] = VERSION;
      const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
      const sealed = new Uint8Array(
        await crypto.subtle.encrypt(
          { name: "AES-GCM", iv: nonce, additionalData: associatedData(header, file) },
          cryptoKey,
          data as Uint8Array<ArrayBuffer>,
        ),
      );
      const out = new Uint8Array(HEADER_BYTES + NONCE_BYTES + sealed.length);
      out.set(header);
      out.set(nonce, HEADER_BYTES);
      out.set(sealed, HEADER_BYTES + NONCE_BYTES);
      return out;
    },
    async decode(data, file) {
      if (!isEncryptedAuthFile(data)) return data;
      const stored = data as Uint8Array<ArrayBuffer>;
      const version = stored[MAGIC.length];
      if (version !== VERSION) {
        throw new PersistenceError(
          `${describe(file)} is encrypted with format version ${version}, which this gateway ` +
            "does not know",
        );
      }
      if (stored.length < HEADER_BYTES + NONCE_BYTES + TAG_BYTES) {
        throw new PersistenceError(`${describe(file)} is truncated`);
      }
      const header = stored.subarray(0, HEADER_BYTES);
      try {
        return new Uint8Array(
          await crypto.subtle.decrypt(
            {
              name: "AES-GCM",
              iv: stored.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES),
              additionalData: associatedData(header, file),
            },
            cryptoKey,
            stored.subarray(HEADER_BYTES + NONCE_BYTES),
          ),
        );
      } catch (error) {
        throw new PersistenceError(
          `Could not decrypt ${describe(file)}: wrong key, or the file was altered or moved`,
          { cause: error },
        );
      }
    },
    isCurrent: isEncryptedAuthFile,
  };
}

function associatedData(header: Uint8Array, file: AuthFileRef): Uint8Array<ArrayBuffer> {
  // Neither session ids nor file names can contain NUL, so the encoding is unambiguous.
  const context = encoder.encode(`wa-gateway auth file\0${file.sessionId}\0${file.name}`);
  const out = new Uint8Array(header.length + context.length);
  out.set(header);
  out.set(context, header.length);
  return out;
}

function describe(file: AuthFileRef): string {
  return file.sessionId ? `auth file ${file.sessionId}/${file.name}` : file.name;
}
