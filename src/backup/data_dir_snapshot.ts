import { join } from "node:path";
import { readRegularFile } from "../persistence/read_regular_file.ts";
import {
  CLEAN_CLOSE_FILE_NAME,
  JOURNAL_FILE_NAME,
  LOCK_FILE_NAME,
  MEDIA_DIR_NAME,
  TEMP_FILE_PREFIX,
  TRASH_PREFIX,
} from "../persistence/data_dir_layout.ts";

/** One file of a snapshot. */
export interface SnapshotFile {
  /** Path relative to the data directory, `/`-separated. */
  path: string;
  data: Uint8Array;
  /** Modification time, in seconds since the epoch. */
  mtime: number;
}

/** One directory of a snapshot, its files read at a single moment. */
export interface SnapshotDirectory {
  /** Path relative to the data directory (`""` for the directory itself). */
  path: string;
  files: SnapshotFile[];
}

/** Options of {@linkcode snapshotDataDir}. */
export interface SnapshotOptions {
  /** How long to keep reading a directory that changes while it is read (default 5000 ms). */
  settleTimeoutMs?: number;
  /** Told about everything left out or not quite right; the snapshot goes on. */
  warn?: (message: string) => void;
}

/** What one read of a directory found, by entry name. */
type DirectoryRead = Map<
  string,
  { kind: "file"; data: Uint8Array; mtime: number } | { kind: "directory" | "other" }
>;

/**
 * Reads a data directory that a running gateway may be writing, one directory at a time, and
 * yields each directory's files as they were at one moment. The store writes every file to a
 * temporary name and renames it into place, so a file is never torn; a session's batch of auth
 * files, though, lands one rename at a time. So each directory is read whole (names and
 * contents) until two reads in a row agree. Inodes and mtimes cannot tell: ext4 reuses a freed
 * inode at once and stamps files with a clock of a few milliseconds' grain. What comes out for
 * each session is what a `kill -9` at that moment would have left, which the gateway restores
 * from by design.
 *
 * A session folder's `.journal` is read after its files and restored with them; the store
 * replays it when it opens the restored directory.
 *
 * Skipped: the lock file, temporary files (`.tmp-*`), deleted folders (`.trash-*`), symlinks and
 * anything that is not a regular file or directory. A directory that never stops changing is
 * taken as last read (each file still whole), with a warning.
 *
 * @example
 * ```ts
 * for await (const dir of snapshotDataDir("sessions_data")) {
 *   for (const file of dir.files) console.log(file.path, file.data.length);
 * }
 * ```
 */
export async function* snapshotDataDir(
  dataDir: string,
  options: SnapshotOptions = {},
): AsyncGenerator<SnapshotDirectory> {
  const warn = options.warn ?? (() => {});
  const settleTimeoutMs = options.settleTimeoutMs ?? 5_000;
  const pending = [""];
  while (pending.length > 0) {
    const relative = pending.shift()!;
    const snapshot = await snapshotOne(dataDir, relative, settleTimeoutMs, warn);
    if (!snapshot) continue; // removed meanwhile (a session deleted during the backup)
    pending.push(...snapshot.subdirectories);
    yield { path: relative, files: snapshot.files };
  }
}

async function snapshotOne(
  dataDir: string,
  relative: string,
  settleTimeoutMs: number,
  warn: (message: string) => void,
): Promise<{ files: SnapshotFile[]; subdirectories: string[] } | null> {
  const dir = relative ? join(dataDir, relative) : dataDir;
  const deadline = performance.now() + settleTimeoutMs;
  let previous = await readDirectory(dir);
  for (let reads = 2;; reads++) {
    if (!previous) return null;
    const current = await readDirectory(dir);
    if (!current) return null;
    // Two reads in a row that agree: every file held that content from the end of the first
    // read to the start of the second, so the result is the directory at one moment.
    if (sameContent(previous, current)) return result(relative, current, warn);
    if (performance.now() > deadline) {
      warn(
        `${relative || "."} kept changing during the backup (${reads} reads); each of its ` +
          "files is whole, but they may be from slightly different moments",
      );
      return result(relative, current, warn);
    }
    previous = current;
    // A random pause, so that a writer with a steady rhythm cannot keep hitting every read.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(reads, 20)));
  }
}

/** Every entry worth backing up, with the content of regular files; `null` if `dir` is gone. */
async function readDirectory(dir: string): Promise<DirectoryRead | null> {
  const entries: DirectoryRead = new Map();
  try {
    const listed = (await Array.fromAsync(Deno.readDir(dir))).filter((e) => !skipped(e.name));
    // The auth journal last: a file is replaced only after its change is journaled, so a journal
    // read after the files holds every change they show, and replaying it on open brings the
    // whole folder to the journal's moment.
    listed.sort((a, b) =>
      Number(a.name === JOURNAL_FILE_NAME) - Number(b.name === JOURNAL_FILE_NAME)
    );
    for (const entry of listed) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) {
        entries.set(entry.name, { kind: "directory" });
      } else if (entry.isFile) {
        const read = await readRegularFile(path);
        // Gone (or swapped for something else) since it was listed: the next read tells.
        if (read.kind !== "file") continue;
        const mtime = (await Deno.lstat(path).catch(() => null))?.mtime?.getTime() ?? 0;
        entries.set(entry.name, { kind: "file", data: read.data, mtime: Math.floor(mtime / 1000) });
      } else {
        entries.set(entry.name, { kind: "other" });
      }
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  return new Map([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function result(
  relative: string,
  read: DirectoryRead,
  warn: (message: string) => void,
): { files: SnapshotFile[]; subdirectories: string[] } {
  const files: SnapshotFile[] = [];
  const subdirectories: string[] = [];
  for (const [name, entry] of read) {
    const path = relative ? `${relative}/${name}` : name;
    if (entry.kind === "file") files.push({ path, data: entry.data, mtime: entry.mtime });
    else if (entry.kind === "directory") subdirectories.push(path);
    else warn(`skipped ${path}: not a regular file or directory (a symlink?)`);
  }
  return { files, subdirectories };
}

function skipped(name: string): boolean {
  // Media files are a cache of what WhatsApp keeps, and files in flight: never worth a backup.
  // Nor the clean-close mark: a restored directory is swept on its first start, as after a crash.
  return name === LOCK_FILE_NAME || name === CLEAN_CLOSE_FILE_NAME || name === MEDIA_DIR_NAME ||
    name.startsWith(TEMP_FILE_PREFIX) || name.startsWith(TRASH_PREFIX);
}

function sameContent(a: DirectoryRead, b: DirectoryRead): boolean {
  if (a.size !== b.size) return false;
  for (const [name, x] of a) {
    const y = b.get(name);
    if (!y || x.kind !== y.kind) return false;
    if (x.kind === "file" && y.kind === "file" && !equalBytes(x.data, y.data)) return false;
  }
  return true;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
