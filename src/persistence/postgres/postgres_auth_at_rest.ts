import type { Sql } from "postgres";
import { EncryptionKeyError } from "../../domain/errors.ts";
import type { Logger } from "../../logger.ts";
import type { AuthFileCodec } from "../auth_file_codec.ts";
import { keyCheck, keyCheckMatches } from "../auth_at_rest.ts";
import { isEncryptedAuthFile } from "../encrypted_auth_file.ts";
import { transaction } from "./transaction.ts";

const KEY_CHECK = "encryption_key_check";
/** Rows re-encoded per transaction when plaintext rows are encrypted. */
const BATCH = 500;

/**
 * Makes the auth rows fit the codec as the store opens, like `prepareAuthAtRest` for a data
 * directory: the key check (in `settings`) must decrypt with the configured key, encrypted rows
 * need a key, and a first start with a key writes the check and encrypts every plaintext row.
 * Throws `EncryptionKeyError` before anything is written when the key does not fit.
 *
 * @example
 * ```ts
 * await preparePostgresAuthAtRest(sql, codec, logger);
 * ```
 */
export async function preparePostgresAuthAtRest(
  sql: Sql,
  codec: AuthFileCodec,
  logger: Logger,
): Promise<void> {
  const [stored] = await sql<{ value: Uint8Array }[]>`
    SELECT value FROM settings WHERE name = ${KEY_CHECK}`;
  if (stored) {
    if (!codec.encrypts) {
      throw new EncryptionKeyError(
        "encryption_key_required",
        "The auth files in the database are encrypted but no SESSIONS_ENCRYPTION_KEY is set",
      );
    }
    if (!(await keyCheckMatches(codec, stored.value))) throw mismatch();
    return;
  }
  if (!codec.encrypts) {
    // Each session's creds.json tells (every migration writes it last), as in a data directory.
    const creds = await sql<{ session_id: string; data: Uint8Array }[]>`
      SELECT session_id, data FROM auth_files WHERE name = 'creds.json'`;
    const encrypted = creds.filter((row) => isEncryptedAuthFile(row.data));
    if (encrypted.length > 0) {
      throw new EncryptionKeyError(
        "encryption_key_required",
        `Sessions ${encrypted.map((row) => row.session_id).slice(0, 10).join(", ")} have ` +
          "encrypted auth files but no SESSIONS_ENCRYPTION_KEY is set",
      );
    }
    return;
  }
  // The check is written once every row is encrypted (creds.json last in each pass), so a start
  // cut short is finished by the next one. Another node starting at the same moment may store
  // its check first: whichever is stored is the one every node must match.
  let encrypted = await encryptPlaintextRows(sql, codec, "others");
  encrypted += await encryptPlaintextRows(sql, codec, "creds");
  if (encrypted > 0) logger.info({ files: encrypted }, "encrypted plaintext auth files");
  await sql`
    INSERT INTO settings (name, value) VALUES (${KEY_CHECK}, ${await keyCheck(codec)})
    ON CONFLICT (name) DO NOTHING`;
  const [check] = await sql<{ value: Uint8Array }[]>`
    SELECT value FROM settings WHERE name = ${KEY_CHECK}`;
  if (!(await keyCheckMatches(codec, check.value))) throw mismatch();
}

async function encryptPlaintextRows(
  sql: Sql,
  codec: AuthFileCodec,
  which: "creds" | "others",
): Promise<number> {
  const creds = which === "creds";
  let encrypted = 0;
  let after = { session_id: "", name: "" };
  for (;;) {
    const rows = await sql<{ session_id: string; name: string; data: Uint8Array }[]>`
      SELECT session_id, name, data FROM auth_files
      WHERE (session_id, name) > (${after.session_id}, ${after.name})
        AND (name = 'creds.json') = ${creds}
      ORDER BY session_id, name LIMIT ${BATCH}`;
    if (rows.length === 0) return encrypted;
    after = rows[rows.length - 1];
    const plain = rows.filter((row) => !isEncryptedAuthFile(row.data));
    if (plain.length === 0) continue;
    await transaction(sql, async (tx) => {
      for (const row of plain) {
        const data = await codec.encode(row.data, { sessionId: row.session_id, name: row.name });
        // Only if nobody changed it meanwhile (a write then went through the codec already).
        const changed = await tx`
          UPDATE auth_files SET data = ${data}
          WHERE session_id = ${row.session_id} AND name = ${row.name} AND data = ${row.data}`;
        encrypted += changed.count;
      }
    });
  }
}

function mismatch(): EncryptionKeyError {
  return new EncryptionKeyError(
    "encryption_key_mismatch",
    "SESSIONS_ENCRYPTION_KEY does not decrypt the auth files in the database; nothing was changed",
  );
}
