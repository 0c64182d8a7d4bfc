import { join } from "node:path";
import { EncryptionKeyError, PersistenceError } from "../domain/errors.ts";
import { isSessionId, type SessionId } from "../domain/session_id.ts";
import type { Logger } from "../logger.ts";
import { removeStaleTempFiles, writeFileAtomic, writeFilesAtomic } from "./atomic_write.ts";
import { keyCheck, keyCheckMatches, reencodeAuthFolder, storedCreds } from "./auth_at_rest.ts";
import type { AuthFileCodec, AuthFileRef } from "./auth_file_codec.ts";
import { replayAuthJournal } from "./auth_journal.ts";
import { DataDirLock } from "./data_dir_lock.ts";
import {
  CREDS_FILE_NAME,
  KEY_CHECK_FILE_NAME,
  KEY_ROTATION_FILE_NAME,
  LOCK_FILE_NAME,
  METADATA_FILE_NAME,
} from "./data_dir_layout.ts";
import { resealWebhookSecrets } from "./metadata_file.ts";
import { clearCleanClose } from "./clean_close_marker.ts";
import { resealOutbox } from "./file_webhook_outbox.ts";
import { resealMessageStore } from "./message_store/file_message_store.ts";
import type { ValueSealer } from "./sealed_value.ts";
import { isEncryptedAuthFile } from "./encrypted_auth_file.ts";
import { readRegularFile } from "./read_regular_file.ts";

/** Options of {@linkcode rotateAuthFileKey}. */
export interface KeyRotationOptions {
  dataDir: string;
  /** Reads the files as they are now (`plainCodec` when they are plaintext). */
  from: AuthFileCodec;
  /** Writes them from now on (`plainCodec` to turn encryption off). */
  to: AuthFileCodec;
  /** Opens the sealed values (webhook secrets, queued events) now; none when they are plaintext. */
  fromSealer?: ValueSealer;
  /** Seals them from now on; none to store them as plaintext. */
  toSealer?: ValueSealer;
  logger: Logger;
}

/** What a key rotation did. */
export interface KeyRotationReport {
  sessions: number;
  /** Files rewritten (files already under the new key are left alone). */
  files: number;
}

const PLAINTEXT_MARKER = new TextEncoder().encode("rotating to plaintext\n");

/**
 * Re-encodes every auth file of a data directory from one codec to another, while no gateway
 * runs: it takes the directory's lock (`DataDirectoryLockedError` if a gateway holds it). Before
 * writing anything it checks the old key against the key check file and every session's
 * `creds.json` (the newest one, when a crash left it in a journal); then it replays journals. Each file is replaced atomically once its new content is durable; a
 * `.key-rotation` marker holding the new key's check stays until every file is done, so the
 * gateway refuses to start on a half-rotated directory, and running the rotation again with the
 * same keys finishes it (files already under the new key are skipped).
 *
 * @example
 * ```ts
 * await rotateAuthFileKey({ dataDir, from: await createAesGcmCodec(oldKey),
 *   to: await createAesGcmCodec(newKey), logger });
 * ```
 */
export async function rotateAuthFileKey(options: KeyRotationOptions): Promise<KeyRotationReport> {
  const { dataDir, from, to, logger } = options;
  const info = await Deno.lstat(dataDir).catch(() => null);
  if (!info?.isDirectory) throw new PersistenceError(`${dataDir} is not a data directory`);
  const lock = await DataDirLock.acquire(join(dataDir, LOCK_FILE_NAME));
  try {
    const markerPath = join(dataDir, KEY_ROTATION_FILE_NAME);
    const marker = await readRegularFile(markerPath);
    if (marker.kind === "file") {
      if (!(await isMarkerOf(to, marker.data))) {
        throw new EncryptionKeyError(
          "key_rotation_incomplete",
          "An interrupted key rotation was going to another new key: run it again with that key",
        );
      }
      logger.warn("resuming an interrupted key rotation");
    } else {
      await checkOldKey(dataDir, from);
    }

    const sessionIds = await sessionFolders(dataDir);
    // Checked before anything is written, journals a crash left included (their newest
    // credentials are the ones the replay below puts in place).
    const undecodable: SessionId[] = [];
    for (const id of sessionIds) {
      const creds = await storedCreds(join(dataDir, id));
      if (!creds) continue;
      try {
        await decode(creds, { sessionId: id, name: CREDS_FILE_NAME }, from, to);
      } catch {
        undecodable.push(id);
      }
    }
    if (undecodable.length > 0) {
      throw new EncryptionKeyError(
        "encryption_key_mismatch",
        `The old key does not decrypt the credentials of ${undecodable.slice(0, 10).join(", ")}` +
          "; nothing was changed",
      );
    }
    // From here on it writes into the session folders: a crash must leave them to be swept.
    await clearCleanClose(dataDir);
    for (const id of sessionIds) {
      // A journal left by a crash holds writes under the old key; left in place, the gateway's
      // next open would replay them over the re-encoded files.
      const replay = await replayAuthJournal(join(dataDir, id));
      if (replay) logger.info({ sessionId: id, files: replay.files }, "replayed the auth journal");
    }

    if (marker.kind === "missing") {
      await writeFileAtomic(markerPath, to.encrypts ? await keyCheck(to) : PLAINTEXT_MARKER);
    }
    let files = 0;
    for (const id of sessionIds) {
      await removeStaleTempFiles(join(dataDir, id));
      const changed = await reencodeAuthFolder(dataDir, id, async (stored, file) => {
        if (isEncryptedAuthFile(stored) === to.encrypts && (await decodesWith(to, stored, file))) {
          return undefined;
        }
        return await to.encode(await from.decode(stored, file), file);
      });
      files += changed;
      logger.info({ sessionId: id, files: changed }, "re-encoded auth folder");
    }
    await resealOutsideAuthFolders(dataDir, options.fromSealer, options.toSealer, logger);
    await writeFilesAtomic(
      dataDir,
      new Map([[KEY_CHECK_FILE_NAME, to.encrypts ? await keyCheck(to) : null]]),
    );
    await writeFilesAtomic(dataDir, new Map([[KEY_ROTATION_FILE_NAME, null]]));
    return { sessions: sessionIds.length, files };
  } finally {
    await lock.release();
  }
}

/** Moves the sealed values of the metadata and the outbox to the new key, before the marker goes. */
async function resealOutsideAuthFolders(
  dataDir: string,
  from: ValueSealer | undefined,
  to: ValueSealer | undefined,
  logger: Logger,
): Promise<void> {
  const metadataPath = join(dataDir, METADATA_FILE_NAME);
  const metadata = await readRegularFile(metadataPath);
  if (metadata.kind === "file") {
    const resealed = resealWebhookSecrets(metadata.data, from, to);
    if (resealed) {
      await writeFileAtomic(metadataPath, resealed.bytes);
      logger.info("re-encrypted the webhook secrets of the session metadata");
      if (resealed.unreadable > 0) {
        logger.warn(
          { secrets: resealed.unreadable },
          "webhook secrets that neither key decrypts were left as they are; the gateway will " +
            "set their sessions' metadata aside",
        );
      }
    }
  }
  const messages = await resealMessageStore(dataDir, from, to);
  if (messages.unreadable > 0) {
    logger.warn(
      { bodies: messages.unreadable },
      "stored messages that neither key decrypts were left as they are; the gateway will skip " +
        "them and keep a copy of their log",
    );
  }
  const outbox = await resealOutbox(dataDir, from, to);
  if (outbox.unreadable > 0) {
    logger.warn(
      { fields: outbox.unreadable },
      "webhook outbox fields that neither key decrypts were left as they are; the gateway will " +
        "skip their entries and keep a copy of the log",
    );
  }
}

async function checkOldKey(dataDir: string, from: AuthFileCodec): Promise<void> {
  const check = await readRegularFile(join(dataDir, KEY_CHECK_FILE_NAME));
  if (check.kind !== "file") return;
  if (!from.encrypts) {
    throw new EncryptionKeyError(
      "encryption_key_required",
      `The auth files in ${dataDir} are encrypted: set OLD_SESSIONS_ENCRYPTION_KEY to their key`,
    );
  }
  if (!(await keyCheckMatches(from, check.data))) {
    throw new EncryptionKeyError(
      "encryption_key_mismatch",
      `OLD_SESSIONS_ENCRYPTION_KEY is not the key of the auth files in ${dataDir}; ` +
        "nothing was changed",
    );
  }
}

async function isMarkerOf(to: AuthFileCodec, marker: Uint8Array): Promise<boolean> {
  if (to.encrypts) return await keyCheckMatches(to, marker);
  return !isEncryptedAuthFile(marker);
}

/** Plaintext of a stored file that is under the old key, or already under the new one. */
async function decode(
  stored: Uint8Array,
  file: AuthFileRef,
  from: AuthFileCodec,
  to: AuthFileCodec,
): Promise<Uint8Array> {
  if (isEncryptedAuthFile(stored) && to.encrypts) {
    try {
      return await to.decode(stored, file);
    } catch {
      // not yet rotated: the old key below
    }
  }
  return await from.decode(stored, file);
}

async function decodesWith(
  codec: AuthFileCodec,
  stored: Uint8Array,
  file: AuthFileRef,
): Promise<boolean> {
  if (!codec.encrypts) return true;
  try {
    await codec.decode(stored, file);
    return true;
  } catch {
    return false;
  }
}

async function sessionFolders(dataDir: string): Promise<SessionId[]> {
  const ids: SessionId[] = [];
  for await (const entry of Deno.readDir(dataDir)) {
    if (entry.isDirectory && isSessionId(entry.name)) ids.push(entry.name);
  }
  return ids.sort();
}
