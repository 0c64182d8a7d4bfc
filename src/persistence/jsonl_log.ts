import { join } from "node:path";
import type { z } from "zod";
import { PersistenceError } from "../domain/errors.ts";
import { syncDirectory, writeFileAtomic } from "./atomic_write.ts";
import { fileStamp } from "./data_dir_layout.ts";
import { GroupCommit } from "./group_commit.ts";
import { readRegularFile } from "./read_regular_file.ts";

/** Options of {@linkcode JsonlLog}. */
export interface JsonlLogOptions {
  /** The directory the log lives in (must exist). */
  dir: string;
  /** The log file's name in `dir`. */
  name: string;
  /**
   * The records that rebuild the owner's current state from nothing. Called when the log is
   * compacted; it must reflect every change already handed to `append`.
   */
  snapshot: () => unknown[];
  /** The log is compacted once it has grown by this many bytes and by twice its last snapshot. */
  compactAfterBytes?: number;
  clock?: () => Date;
}

/** What `open` read back. */
export interface JsonlLogLoad<T> {
  /** Every well-formed, valid line, parsed, in order. */
  records: T[];
  /** An incomplete last line (a write cut short by a crash), dropped. */
  tornTail: boolean;
  /** Complete lines that were not JSON or failed the schema; the file was kept aside. */
  invalidLines: number;
  /** Where the file was kept aside, when it held invalid lines. */
  corruptCopy: string | null;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const DEFAULT_COMPACT_AFTER = 4 * 1024 * 1024;

/**
 * An append-only log of JSON records, one per line, made durable in batches: every `append` in a
 * batch is written with one `write` and one `fsync`. When the file has grown enough it is
 * compacted: the owner's `snapshot()` is written to a new file that atomically replaces the log
 * (temporary file, fsync, rename, directory fsync), so a crash leaves the old log or the new one.
 * A crash in the middle of an append leaves at most an incomplete last line, which `open` drops.
 *
 * @example
 * ```ts
 * const log = new JsonlLog({ dir, name: "pending.jsonl", snapshot: () => [...state] });
 * const { records } = await log.open();
 * await log.append([{ op: "add", id: "1" }]); // durable once resolved
 * await log.close();
 * ```
 */
export class JsonlLog {
  readonly #path: string;
  readonly #dir: string;
  readonly #snapshot: () => unknown[];
  readonly #compactAfter: number;
  readonly #clock: () => Date;
  readonly #writer = new GroupCommit(() => this.#commit());
  #buffer: string[] = [];
  #file: Deno.FsFile | null = null;
  /** Bytes appended since the last compaction, and the size of that compaction's snapshot. */
  #grown = 0;
  #snapshotBytes = 0;
  #compactDue = false;
  /** Whether the file's directory entry is known to be durable (it may be created by an append). */
  #entryDurable = false;
  #state: "new" | "open" | "closed" = "new";

  constructor(options: JsonlLogOptions) {
    this.#dir = options.dir;
    this.#path = join(options.dir, options.name);
    this.#snapshot = options.snapshot;
    this.#compactAfter = options.compactAfterBytes ?? DEFAULT_COMPACT_AFTER;
    this.#clock = options.clock ?? (() => new Date());
  }

  /** The log file's path. */
  get path(): string {
    return this.#path;
  }

  /**
   * Reads every record back. The caller rebuilds its state from them, then calls `compact()`
   * so the file holds exactly that state (and no torn line) before the first append.
   */
  async open<T>(schema: z.ZodType<T>): Promise<JsonlLogLoad<T>> {
    if (this.#state !== "new") throw new PersistenceError(`${this.#path} is already open`);
    const read = await readRegularFile(this.#path);
    if (read.kind === "not_regular") {
      throw new PersistenceError(`${this.#path} is not a regular file`);
    }
    const load: JsonlLogLoad<T> = {
      records: [],
      tornTail: false,
      invalidLines: 0,
      corruptCopy: null,
    };
    if (read.kind === "file") {
      const text = decoder.decode(read.data);
      const lines = text.split("\n");
      // The part after the last newline is a line whose write never finished.
      const tail = lines.pop()!;
      if (tail !== "") load.tornTail = true;
      for (const line of lines) {
        if (line === "") continue;
        const parsed = schema.safeParse(parseJson(line));
        if (parsed.success) load.records.push(parsed.data);
        else load.invalidLines++;
      }
      if (load.invalidLines > 0) {
        load.corruptCopy = `${this.#path}.corrupt-${fileStamp(this.#clock())}`;
        // Durable before the compaction that follows drops those lines from the log.
        await writeFileAtomic(load.corruptCopy, read.data);
      }
    }
    this.#state = "open";
    return load;
  }

  /** Appends records; resolves once they are durable. */
  append(records: readonly unknown[]): Promise<void> {
    this.#assertOpen();
    for (const record of records) this.#buffer.push(JSON.stringify(record));
    return this.#writer.request();
  }

  /** Rewrites the log as the owner's current snapshot; resolves once that is durable. */
  compact(): Promise<void> {
    this.#assertOpen();
    this.#compactDue = true;
    return this.#writer.request();
  }

  /** Waits for every append accepted so far. */
  async flush(): Promise<void> {
    await this.#writer.settled();
    if (this.#buffer.length > 0 || this.#compactDue) await this.#writer.request();
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    if (this.#state !== "open") return;
    try {
      await this.flush();
    } finally {
      this.#state = "closed";
      this.#file?.close();
      this.#file = null;
    }
  }

  #assertOpen(): void {
    if (this.#state !== "open") throw new PersistenceError(`${this.#path} is not open`);
  }

  async #commit(): Promise<void> {
    if (
      this.#compactDue ||
      (this.#grown > this.#compactAfter && this.#grown > 2 * this.#snapshotBytes)
    ) {
      await this.#rewrite();
      return;
    }
    if (this.#buffer.length === 0) return;
    const lines = this.#buffer;
    this.#buffer = [];
    const bytes = encoder.encode(`${lines.join("\n")}\n`);
    try {
      this.#file ??= await Deno.open(this.#path, {
        write: true,
        append: true,
        create: true,
        mode: 0o600,
      });
      let written = 0;
      while (written < bytes.length) written += await this.#file.write(bytes.subarray(written));
      await this.#file.syncData();
      // An append may have created the file (no compaction before it): its name is durable only
      // once the directory is synced.
      if (!this.#entryDurable) {
        await syncDirectory(this.#dir);
        this.#entryDurable = true;
      }
      this.#grown += bytes.length;
    } catch (error) {
      // Part of the batch may be on disk, torn: the next commit replaces the file whole.
      this.#compactDue = true;
      throw new PersistenceError(`Could not append to ${this.#path}`, { cause: error });
    }
  }

  /** Replaces the file with the snapshot; the buffered records are part of the state it reflects. */
  async #rewrite(): Promise<void> {
    this.#buffer = [];
    const records = this.#snapshot();
    const text = records.map((record) => `${JSON.stringify(record)}\n`).join("");
    const bytes = encoder.encode(text);
    this.#file?.close();
    this.#file = null;
    try {
      await writeFileAtomic(this.#path, bytes);
    } catch (error) {
      this.#compactDue = true;
      throw new PersistenceError(`Could not rewrite ${this.#path}`, { cause: error });
    }
    this.#compactDue = false;
    this.#entryDurable = true; // writeFileAtomic synced the directory
    this.#grown = 0;
    this.#snapshotBytes = bytes.length;
  }
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/**
 * Rewrites a JSONL file atomically, line by line, for offline migrations such as a key rotation:
 * `rewrite` gets each line's record and returns the record to write instead (or the same one).
 * Lines that are not JSON objects (a torn tail, damage) are kept as they are, for the log's own
 * `open` to deal with. A missing file stays missing.
 *
 * @example
 * ```ts
 * await rewriteJsonlFile(path, (record) => ({ ...record, body: reseal(record.body) }));
 * ```
 */
export async function rewriteJsonlFile(
  path: string,
  rewrite: (record: Record<string, unknown>) => Record<string, unknown>,
): Promise<void> {
  const read = await readRegularFile(path);
  if (read.kind !== "file") return;
  const lines = decoder.decode(read.data).split("\n").map((line) => {
    const record = parseJson(line);
    if (record === null || typeof record !== "object" || Array.isArray(record)) return line;
    const rewritten = rewrite(record as Record<string, unknown>);
    return rewritten === record ? line : JSON.stringify(rewritten);
  });
  await writeFileAtomic(path, encoder.encode(lines.join("\n")));
}
