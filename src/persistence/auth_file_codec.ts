import { EncryptionKeyError } from "../domain/errors.ts";
import { isEncryptedAuthFile } from "./encrypted_auth_file.ts";

/** Which auth file some bytes belong to: bound into the ciphertext by encrypting codecs. */
export interface AuthFileRef {
  sessionId: string;
  name: string;
}

/**
 * Turns auth file contents into the bytes stored on disk and back. The seam where encryption of
 * auth files at rest plugs in; the store calls `encode` before every write and `decode` after
 * every read, with the file's session and name (usable as associated data).
 */
export interface AuthFileCodec {
  /** Whether stored files are encrypted (and so a key check is kept beside them). */
  readonly encrypts: boolean;
  encode(data: Uint8Array, file: AuthFileRef): Promise<Uint8Array>;
  decode(stored: Uint8Array, file: AuthFileRef): Promise<Uint8Array>;
  /**
   * Whether stored bytes are already in this codec's format; the store rewrites the others when
   * it opens. Throws `EncryptionKeyError` for bytes this codec can never read.
   */
  isCurrent(stored: Uint8Array): boolean;
}

/**
 * Stores auth files as they are (Baileys' own `useMultiFileAuthState` format). Refuses to read
 * an encrypted file rather than hand ciphertext to Baileys as if it were JSON.
 *
 * @example
 * ```ts
 * new FileSessionStore({ dataDir, logger, codec: plainCodec });
 * ```
 */
export const plainCodec: AuthFileCodec = {
  encrypts: false,
  encode: (data) => Promise.resolve(data),
  decode: (stored, file) => {
    if (isEncryptedAuthFile(stored)) return Promise.reject(keyRequired(file));
    return Promise.resolve(stored);
  },
  isCurrent: (stored) => {
    if (isEncryptedAuthFile(stored)) throw keyRequired();
    return true;
  },
};

function keyRequired(file?: AuthFileRef): EncryptionKeyError {
  const where = file ? ` (${file.sessionId}/${file.name})` : "";
  return new EncryptionKeyError(
    "encryption_key_required",
    `Auth files are encrypted${where} but no SESSIONS_ENCRYPTION_KEY is set`,
  );
}
