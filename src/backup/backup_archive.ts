/**
 * Backups of a data directory as one tar archive:
 *
 * ```
 * data/                        the data directory, as it was
 * data/sessions-metadata.json
 * data/<sessionId>/creds.json, …
 * wa-gateway-backup.json       the manifest: every file's size and SHA-256, written last
 * ```
 *
 * `tar -xf backup.tar` restores it by hand too; `restoreBackup` also checks every checksum before
 * it writes anything, and every file it writes.
 */
import { isSessionId } from "../domain/session_id.ts";
import { createHash } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import { z } from "zod";
import {
  createDirectoryDurably,
  syncDirectory,
  writeFilesAtomic,
} from "../persistence/atomic_write.ts";
import { readRegularFile } from "../persistence/read_regular_file.ts";
import { TEMP_FILE_PREFIX } from "../persistence/data_dir_layout.ts";
import { snapshotDataDir } from "./data_dir_snapshot.ts";
import { exactReader, readTar, TarWriter } from "./tar.ts";

/** The prefix of every data file in the archive. */
const DATA_PREFIX = "data";
/** The manifest's name in the archive. */
export const MANIFEST_NAME = "wa-gateway-backup.json";

const ManifestSchema = z.object({
  format: z.literal("wa-gateway-backup"),
  version: z.literal(1),
  createdAt: z.string(),
  files: z.array(z.object({
    path: z.string(),
    size: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  })),
  warnings: z.array(z.string()),
});

/** The manifest stored in every backup. */
export type BackupManifest = z.infer<typeof ManifestSchema>;

/** A backup or restore could not be done; the message says why. Nothing was changed. */
export class BackupError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BackupError";
  }
}

/** What a backup or restore did. */
export interface BackupReport {
  archive: string;
  dataDir: string;
  /** Every file, relative to the data directory. */
  files: string[];
  bytes: number;
  /** Session folders (other directories, such as the webhook outbox, are in `files`). */
  sessions: string[];
  warnings: string[];
}

/** Options of {@linkcode createBackup}. */
export interface CreateBackupOptions {
  clock?: () => Date;
}

/**
 * Writes a consistent archive of `dataDir` to `archive` (mode 0600: it holds credentials), while
 * a gateway may be using the directory (see `snapshotDataDir`). The archive appears whole or not
 * at all. JSON files that do not parse are kept as they are and reported as warnings; encrypted
 * auth files (which start with a NUL byte) are not parsed.
 *
 * @example
 * ```ts
 * const report = await createBackup("sessions_data", "/backups/gateway.tar");
 * ```
 */
export async function createBackup(
  dataDir: string,
  archive: string,
  options: CreateBackupOptions = {},
): Promise<BackupReport> {
  const source = resolve(dataDir);
  const target = resolve(archive);
  if (target === source || target.startsWith(`${source}/`)) {
    throw new BackupError(`The archive ${archive} must be outside the data directory ${dataDir}`);
  }
  try {
    if (!(await Deno.stat(source)).isDirectory) {
      throw new BackupError(`${dataDir} is not a directory`);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new BackupError(`The data directory ${dataDir} does not exist`);
    }
    throw error;
  }

  const warnings: string[] = [];
  const manifest: BackupManifest = {
    format: "wa-gateway-backup",
    version: 1,
    createdAt: (options.clock?.() ?? new Date()).toISOString(),
    files: [],
    warnings,
  };
  const report: BackupReport = {
    archive,
    dataDir,
    files: [],
    bytes: 0,
    sessions: [],
    warnings,
  };

  const temp = join(
    dirname(target),
    `${TEMP_FILE_PREFIX}${basename(target)}-${crypto.randomUUID()}`,
  );
  const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
  try {
    const tar = new TarWriter((bytes) => writeAll(file, bytes));
    await tar.directory(DATA_PREFIX);
    for await (
      const directory of snapshotDataDir(source, { warn: (message) => warnings.push(message) })
    ) {
      if (directory.path) {
        await tar.directory(`${DATA_PREFIX}/${directory.path}`);
        if (isSessionId(directory.path)) report.sessions.push(directory.path);
      }
      for (const { path, data, mtime } of directory.files) {
        const problem = jsonProblem(path, data);
        if (problem) warnings.push(`${path}: ${problem} (kept as it is)`);
        await tar.file(`${DATA_PREFIX}/${path}`, data, 0o600, mtime);
        manifest.files.push({ path, size: data.length, sha256: sha256(data) });
        report.files.push(path);
        report.bytes += data.length;
      }
    }
    const manifestBytes = new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`);
    await tar.file(MANIFEST_NAME, manifestBytes, 0o600, Math.floor(Date.now() / 1000));
    await tar.finish();
    await file.sync();
    file.close();
    await Deno.rename(temp, target);
    await syncDirectory(dirname(target));
  } catch (error) {
    try {
      file.close();
    } catch {
      // already closed
    }
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  return report;
}

/**
 * Restores a backup into `targetDir`, which must be empty or absent (it is created, mode 0700).
 * Reads the archive twice: first to check every file against the manifest (size and SHA-256,
 * nothing missing, nothing extra) without writing anything, then to write the files durably,
 * checking each one again against the manifest before it is written (the archive may have
 * changed in between). Finally every restored file is read back and checked. Any mismatch, or a
 * damaged archive, leaves the target as it was.
 *
 * @example
 * ```ts
 * await restoreBackup("/backups/gateway.tar", "/srv/wa-gateway/sessions_data");
 * ```
 */
export async function restoreBackup(archive: string, targetDir: string): Promise<BackupReport> {
  const existed = await requireEmptyDirectory(targetDir);
  const manifest = await verifyArchive(archive);
  const expected = new Map(manifest.files.map((file) => [file.path, file]));

  const warnings = [...manifest.warnings];
  // The task may write only the target, so the directory it lives in may be closed to it.
  await createDirectoryDurably(targetDir, {
    mode: 0o700,
    onParentNotSynced: (parent) =>
      warnings.push(
        `${parent}: not synced (no permission to read it); run sync before relying on the new directory`,
      ),
  });
  const report: BackupReport = {
    archive,
    dataDir: targetDir,
    files: [],
    bytes: 0,
    sessions: [],
    warnings,
  };
  let batchDir: string | null = null;
  let batch = new Map<string, Uint8Array | null>();
  const flush = async () => {
    if (batchDir !== null && batch.size > 0) {
      await createDirectoryDurably(batchDir, { mode: 0o700 });
      await writeFilesAtomic(batchDir, batch);
    }
    batch = new Map();
  };
  try {
    await readArchive(archive, async (entry, data) => {
      const relative = dataPath(entry.path);
      if (relative === null || relative === "") return;
      if (entry.type === "directory") {
        await createDirectoryDurably(join(targetDir, relative), { mode: 0o700 });
        if (isSessionId(relative)) report.sessions.push(relative);
        return;
      }
      const wanted = expected.get(relative);
      if (!wanted || wanted.size !== data.length || wanted.sha256 !== sha256(data)) {
        throw new BackupError(`${relative} in ${archive} changed since it was checked`);
      }
      expected.delete(relative);
      const dir = join(targetDir, dirname(relative));
      if (dir !== batchDir) {
        await flush();
        batchDir = dir;
      }
      batch.set(basename(relative), data);
      report.files.push(relative);
      report.bytes += data.length;
    });
    await flush();
    if (expected.size > 0) {
      throw new BackupError(
        `${[...expected.keys()].join(", ")} left ${archive} since it was checked`,
      );
    }
    await verifyRestored(targetDir, manifest);
  } catch (error) {
    // The directory was empty or absent: leave it so, for a clean second attempt.
    for await (const entry of Deno.readDir(targetDir)) {
      await Deno.remove(join(targetDir, entry.name), { recursive: true }).catch(() => {});
    }
    if (!existed) await Deno.remove(targetDir).catch(() => {});
    throw error;
  }
  return report;
}

/** Reads every restored file back and checks it against the manifest. */
async function verifyRestored(targetDir: string, manifest: BackupManifest): Promise<void> {
  for (const file of manifest.files) {
    const read = await readRegularFile(join(targetDir, file.path));
    if (
      read.kind !== "file" || read.data.length !== file.size || sha256(read.data) !== file.sha256
    ) {
      throw new BackupError(`${file.path} does not read back as it was written`);
    }
  }
}

/**
 * Checks every file of a backup against its manifest without writing anything; returns the
 * manifest. Throws `BackupError` naming the first problem.
 *
 * @example
 * ```ts
 * const manifest = await verifyArchive("/backups/gateway.tar");
 * ```
 */
export async function verifyArchive(archive: string): Promise<BackupManifest> {
  const seen = new Map<string, { size: number; sha256: string }>();
  let manifestBytes: Uint8Array | null = null;
  await readArchive(archive, (entry, data) => {
    if (entry.path === MANIFEST_NAME && entry.type === "file") {
      manifestBytes = data;
      return Promise.resolve();
    }
    const relative = dataPath(entry.path);
    if (relative === null) throw new BackupError(`Unexpected entry ${entry.path} in ${archive}`);
    if (entry.type === "file") {
      if (seen.has(relative)) throw new BackupError(`${relative} appears twice in ${archive}`);
      seen.set(relative, { size: data.length, sha256: sha256(data) });
    }
    return Promise.resolve();
  });
  if (!manifestBytes) {
    throw new BackupError(`${archive} has no ${MANIFEST_NAME}: not a complete gateway backup`);
  }
  let manifest: BackupManifest;
  try {
    manifest = ManifestSchema.parse(JSON.parse(new TextDecoder().decode(manifestBytes)));
  } catch (error) {
    throw new BackupError(`The manifest of ${archive} is invalid`, { cause: error });
  }
  for (const expected of manifest.files) {
    const actual = seen.get(expected.path);
    if (!actual) throw new BackupError(`${expected.path} is missing from ${archive}`);
    if (actual.size !== expected.size || actual.sha256 !== expected.sha256) {
      throw new BackupError(`${expected.path} in ${archive} does not match its checksum`);
    }
    seen.delete(expected.path);
  }
  const extra = [...seen.keys()];
  if (extra.length > 0) {
    throw new BackupError(`${archive} holds files its manifest does not list: ${extra.join(", ")}`);
  }
  return manifest;
}

async function readArchive(
  archive: string,
  onEntry: Parameters<typeof readTar>[1],
): Promise<void> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(archive, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new BackupError(`${archive} does not exist`);
    throw error;
  }
  try {
    await readTar(exactReader(file), onEntry);
  } catch (error) {
    if (error instanceof BackupError) throw error;
    throw new BackupError(`${archive} is not a readable backup: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    file.close();
  }
}

/** The path below `data/`, `""` for `data` itself, `null` for anything outside it. */
function dataPath(path: string): string | null {
  if (path === DATA_PREFIX) return "";
  return path.startsWith(`${DATA_PREFIX}/`) ? path.slice(DATA_PREFIX.length + 1) : null;
}

/** Throws unless `dir` is an empty directory or absent; returns whether it exists. */
async function requireEmptyDirectory(dir: string): Promise<boolean> {
  try {
    const info = await Deno.lstat(dir);
    if (!info.isDirectory) throw new BackupError(`${dir} exists and is not a directory`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
  for await (const _ of Deno.readDir(dir)) {
    throw new BackupError(
      `${dir} is not empty: restore only into an empty or new directory, never over a gateway's data`,
    );
  }
  return true;
}

function jsonProblem(path: string, data: Uint8Array): string | null {
  // Encrypted auth files start with a NUL byte; only plaintext JSON is checked.
  if (!path.endsWith(".json") || data[0] === 0) return null;
  try {
    JSON.parse(new TextDecoder().decode(data));
    return null;
  } catch {
    return "not valid JSON";
  }
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}
