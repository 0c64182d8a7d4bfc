import { join } from "node:path";
import { EncryptionKeyError, PersistenceError } from "../domain/errors.ts";
import type { SessionId } from "../domain/session_id.ts";
import type { Logger } from "../logger.ts";
import { writeFileAtomic, writeFilesAtomic } from "./atomic_write.ts";
import type { AuthFileCodec, AuthFileRef } from "./auth_file_codec.ts";
import { authFileNames } from "./auth_folder.ts";
import { decodeJournalRecords } from "./auth_journal_record.ts";
import { forEachLimited } from "../lib/for_each_limited.ts";
import {
  CREDS_FILE_NAME,
  JOURNAL_FILE_NAME,
  KEY_CHECK_FILE_NAME,
  KEY_ROTATION_FILE_NAME,
} from "./data_dir_layout.ts";
import { isEncryptedAuthFile } from "./encrypted_auth_file.ts";
import { readRegularFile } from "./read_regular_file.ts";

const encoder = new TextEncoder();
const KEY_CHECK_PLAINTEXT = encoder.encode("wa-gateway encryption key check v1");
/** No session id is empty, so the key check can never be mistaken for an auth file. */
const KEY_CHECK_REF: AuthFileRef = { sessionId: "", name: KEY_CHECK_FILE_NAME };
/** How many files of one folder are re-encoded per atomic batch (bounds memory). */
const REENCODE_BATCH = 256;
/** Temporary files written (and synced) at once within a batch: fsyncs overlap on most disks. */
const WRITE_CONCURRENCY = 32;
/** Session folders migrated at once. */
const FOLDER_CONCURRENCY = 4;

/** Options of {@linkcode checkAuthAtRest} and {@linkcode migrateAuthAtRest}. */
export interface AuthAtRestOptions {
  dataDir: string;
  /** The session folders. */
  sessionIds: readonly SessionId[];
  codec: AuthFileCodec;
}

/**
 * Checks that the auth files at rest fit the codec, without writing anything, as the store
 * opens (lock held, before it sweeps leftovers or replays journals): no key rotation left
 * half-done; with a key, the key check file and every session's `creds.json` decrypt; without
 * one, no session is encrypted. A journal a crash left counts as part of its folder (its newest
 * `creds.json` is the one checked). Any mismatch throws `EncryptionKeyError`.
 *
 * @example
 * ```ts
 * await checkAuthAtRest({ dataDir, sessionIds: ["shop-1"], codec });
 * ```
 */
export async function checkAuthAtRest(options: AuthAtRestOptions): Promise<void> {
  const { dataDir, codec } = options;
  if ((await readRegularFile(join(dataDir, KEY_ROTATION_FILE_NAME))).kind !== "missing") {
    throw new EncryptionKeyError(
      "key_rotation_incomplete",
      `A key rotation of ${dataDir} was interrupted: run 'deno task rotate-key' again with the ` +
        "same keys before starting the gateway",
    );
  }
  const check = await readRegularFile(join(dataDir, KEY_CHECK_FILE_NAME));
  if (check.kind === "not_regular") {
    throw new PersistenceError(`${join(dataDir, KEY_CHECK_FILE_NAME)} is not a regular file`);
  }
  if (check.kind === "file") {
    if (!codec.encrypts) {
      throw new EncryptionKeyError(
        "encryption_key_required",
        `The auth files in ${dataDir} are encrypted but no SESSIONS_ENCRYPTION_KEY is set`,
      );
    }
    if (!(await keyCheckMatches(codec, check.data))) throw keyMismatch(dataDir, []);
  }
  const states = await probeFolders(dataDir, options.sessionIds, codec);
  const encryptedWithoutKey = options.sessionIds.filter((_, i) => states[i] === "needs_key");
  const undecryptable = options.sessionIds.filter((_, i) => states[i] === "wrong_key");
  if (encryptedWithoutKey.length > 0) {
    throw new EncryptionKeyError(
      "encryption_key_required",
      `Sessions ${list(encryptedWithoutKey)} have encrypted auth files but no ` +
        "SESSIONS_ENCRYPTION_KEY is set",
    );
  }
  if (undecryptable.length > 0) throw keyMismatch(dataDir, undecryptable);
}

/**
 * With a key, after {@linkcode checkAuthAtRest} and the journals' replay: writes the key check
 * if absent and encrypts the plaintext folders, `creds.json` last, so a folder whose
 * `creds.json` is encrypted is wholly encrypted. Returns the migrated sessions.
 *
 * @example
 * ```ts
 * await migrateAuthAtRest({ dataDir, sessionIds: ["shop-1"], codec, logger });
 * ```
 */
export async function migrateAuthAtRest(
  options: AuthAtRestOptions & { logger: Logger },
): Promise<SessionId[]> {
  const { dataDir, codec, logger } = options;
  if (!codec.encrypts) return [];
  const states = await probeFolders(dataDir, options.sessionIds, codec);
  const toMigrate = options.sessionIds.filter((_, i) => states[i] === "plaintext");
  if ((await readRegularFile(join(dataDir, KEY_CHECK_FILE_NAME))).kind === "missing") {
    await writeFileAtomic(join(dataDir, KEY_CHECK_FILE_NAME), await keyCheck(codec));
  }
  // Every worker is awaited, even after a failure, so none writes after the store gives up its
  // lock; after a failure no worker starts another folder.
  let next = 0;
  let failed = false;
  const migrate = async () => {
    while (!failed && next < toMigrate.length) {
      const id = toMigrate[next++];
      try {
        const files = await reencodeAuthFolder(
          dataDir,
          id,
          async (stored, file) =>
            codec.isCurrent(stored) ? undefined : await codec.encode(stored, file),
        );
        logger.info({ sessionId: id, files }, "encrypted a plaintext auth folder");
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const workers = Array.from({ length: Math.min(FOLDER_CONCURRENCY, toMigrate.length) }, migrate);
  const failure = (await Promise.allSettled(workers)).find((result) =>
    result.status === "rejected"
  );
  if (failure) throw failure.reason;
  return toMigrate;
}

/**
 * The stored bytes of the auth files of a folder as the store will see them once it replayed
 * the journal a crash may have left: the journal's newest records over the files.
 *
 * @example
 * ```ts
 * const creds = (await storedAuthFiles(dir)).get("creds.json");
 * ```
 */
export async function storedAuthFiles(
  dir: string,
): Promise<Map<string, () => Promise<Uint8Array | undefined>>> {
  const files = new Map<string, () => Promise<Uint8Array | undefined>>();
  for (const name of await authFileNames(dir)) {
    files.set(name, async () => {
      const read = await readRegularFile(join(dir, name));
      return read.kind === "file" ? read.data : undefined;
    });
  }
  for (const [name, data] of await journaledFiles(dir)) {
    if (data === null) files.delete(name);
    else files.set(name, () => Promise.resolve(data));
  }
  return files;
}

/**
 * The newest change the journal a crash left in `dir` holds for each file (bytes, or `null` for a
 * deletion); empty without a journal. Blocking reads: it is read while opening, when this thread
 * has nothing else to do.
 */
async function journaledFiles(dir: string): Promise<Map<string, Uint8Array | null>> {
  const newest = new Map<string, Uint8Array | null>();
  const journal = await readRegularFile(join(dir, JOURNAL_FILE_NAME), { blocking: true });
  if (journal.kind !== "file") return newest;
  for (const record of decodeJournalRecords(journal.data).records) {
    for (const [name, data] of record) newest.set(name, data);
  }
  return newest;
}

/**
 * The stored bytes of a folder's `creds.json` as {@linkcode storedAuthFiles} sees them, without
 * listing the folder (a linked session's holds hundreds of keys); `undefined` when there is none.
 *
 * @example
 * ```ts
 * const creds = await storedCreds("/data/shop-1");
 * ```
 */
export async function storedCreds(dir: string): Promise<Uint8Array | undefined> {
  const journaled = (await journaledFiles(dir)).get(CREDS_FILE_NAME);
  if (journaled !== undefined) return journaled ?? undefined;
  // Blocking, as the journal's: a small file, read while opening.
  const read = await readRegularFile(join(dir, CREDS_FILE_NAME), { blocking: true });
  return read.kind === "file" ? read.data : undefined;
}

/** How many folders are probed at once: each probe mostly waits for a file read. */
const PROBE_CONCURRENCY = 32;

/** What a session folder holds as far as encryption at rest goes (see {@linkcode probeFolder}). */
type FolderState = "current" | "plaintext" | "needs_key" | "wrong_key";

/** {@linkcode probeFolder} of each session, in the same order. */
async function probeFolders(
  dataDir: string,
  sessionIds: readonly SessionId[],
  codec: AuthFileCodec,
): Promise<FolderState[]> {
  const states: FolderState[] = [];
  await forEachLimited(sessionIds, PROBE_CONCURRENCY, async (id, i) => {
    states[i] = await probeFolder(dataDir, id, codec);
  });
  return states;
}

/**
 * What a session folder holds, judged by its `creds.json` (written last by every migration), or
 * by every file when there is none; a journal counts (see {@linkcode storedAuthFiles}). With a
 * key, one encrypted file is trial-decrypted.
 */
async function probeFolder(
  dataDir: string,
  sessionId: SessionId,
  codec: AuthFileCodec,
): Promise<FolderState> {
  const dir = join(dataDir, sessionId);
  const creds = await storedCreds(dir);
  const probed = creds
    ? [[CREDS_FILE_NAME, () => Promise.resolve(creds)] as const]
    : [...await storedAuthFiles(dir)];
  let plaintext = false;
  let tried = false;
  for (const [name, read] of probed) {
    const data = await read();
    if (!data) continue;
    if (!isEncryptedAuthFile(data)) {
      plaintext = true;
      continue;
    }
    if (!codec.encrypts) return "needs_key";
    if (tried) continue;
    tried = true;
    try {
      await codec.decode(data, { sessionId, name });
    } catch {
      return "wrong_key";
    }
  }
  return plaintext && codec.encrypts ? "plaintext" : "current";
}

/**
 * Rewrites the auth files of one session folder through `transform` (which returns the new
 * stored bytes, or `undefined` to leave a file as it is). Each file is replaced atomically once
 * its new content is durable; `creds.json` goes last. Returns how many files changed.
 *
 * @example
 * ```ts
 * await reencodeAuthFolder(dataDir, id, (stored, file) => codec.encode(stored, file));
 * ```
 */
export async function reencodeAuthFolder(
  dataDir: string,
  sessionId: SessionId,
  transform: (stored: Uint8Array, file: AuthFileRef) => Promise<Uint8Array | undefined>,
): Promise<number> {
  const dir = join(dataDir, sessionId);
  const all = await authFileNames(dir);
  const names = all.filter((name) => name !== CREDS_FILE_NAME);
  if (all.length > names.length) names.push(CREDS_FILE_NAME);
  let changed = 0;
  let batch = new Map<string, Uint8Array>();
  const commit = async () => {
    if (batch.size === 0) return;
    await writeFilesAtomic(dir, batch, { concurrency: WRITE_CONCURRENCY });
    changed += batch.size;
    batch = new Map();
  };
  for (const name of names) {
    // creds.json alone in the last batch: it is the folder's "done" marker.
    if (name === CREDS_FILE_NAME || batch.size >= REENCODE_BATCH) await commit();
    const read = await readRegularFile(join(dir, name));
    if (read.kind !== "file") continue;
    const next = await transform(read.data, { sessionId, name });
    if (next !== undefined) batch.set(name, next);
  }
  await commit();
  return changed;
}

/**
 * The key check: a constant encrypted with the codec's key, stored beside the auth files.
 *
 * @example
 * ```ts
 * await writeFileAtomic(join(dataDir, KEY_CHECK_FILE_NAME), await keyCheck(codec));
 * ```
 */
export function keyCheck(codec: AuthFileCodec): Promise<Uint8Array> {
  return codec.encode(KEY_CHECK_PLAINTEXT, KEY_CHECK_REF);
}

/**
 * Whether `stored` is a key check made with the codec's key.
 *
 * @example
 * ```ts
 * if (!(await keyCheckMatches(codec, stored))) throw new Error("wrong key");
 * ```
 */
export async function keyCheckMatches(codec: AuthFileCodec, stored: Uint8Array): Promise<boolean> {
  if (!codec.encrypts || !isEncryptedAuthFile(stored)) return false;
  try {
    const plain = await codec.decode(stored, KEY_CHECK_REF);
    return plain.length === KEY_CHECK_PLAINTEXT.length &&
      plain.every((byte, i) => byte === KEY_CHECK_PLAINTEXT[i]);
  } catch {
    return false;
  }
}

function keyMismatch(dataDir: string, sessions: SessionId[]): EncryptionKeyError {
  const which = sessions.length > 0 ? ` (sessions ${list(sessions)})` : "";
  return new EncryptionKeyError(
    "encryption_key_mismatch",
    `SESSIONS_ENCRYPTION_KEY does not decrypt the auth files in ${dataDir}${which}; ` +
      "nothing was changed",
  );
}

function list(ids: SessionId[]): string {
  const shown = ids.slice(0, 10).join(", ");
  return ids.length > 10 ? `${shown} and ${ids.length - 10} more` : shown;
}
