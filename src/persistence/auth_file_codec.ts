/**
 * Turns auth file contents into the bytes stored on disk and back. The seam where encryption of
 * auth files at rest plugs in; the store calls `encode` before every write and `decode` after
 * every read, with the file's name (usable as associated data).
 */
export interface AuthFileCodec {
  encode(data: Uint8Array, name: string): Promise<Uint8Array>;
  decode(data: Uint8Array, name: string): Promise<Uint8Array>;
}

/**
 * Stores auth files as they are (Baileys' own `useMultiFileAuthState` format).
 *
 * @example
 * ```ts
 * new FileSessionStore({ dataDir, logger, codec: plainCodec });
 * ```
 */
export const plainCodec: AuthFileCodec = {
  encode: (data) => Promise.resolve(data),
  decode: (data) => Promise.resolve(data),
};
