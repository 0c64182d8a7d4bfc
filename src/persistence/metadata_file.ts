import { type SessionRecord, SessionRecordSchema } from "../domain/session.ts";
import { isSessionId, type SessionId } from "../domain/session_id.ts";

/** A metadata entry that failed validation, kept with the reason so it can be set aside. */
export interface RejectedEntry {
  key: string;
  reason: string;
  value: unknown;
}

/** What {@linkcode parseMetadata} made of the metadata file's bytes. */
export type ParsedMetadata =
  | { ok: true; records: SessionRecord[]; rejected: RejectedEntry[] }
  | { ok: false; reason: string };

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * Parses and validates the metadata file: a JSON object keyed by session id. The file as a whole
 * fails (`ok: false`) when it is not UTF-8 JSON holding an object; otherwise each entry is checked
 * on its own, and one whose key is not a valid id, whose value fails `SessionRecordSchema`, or
 * whose `id` differs from its key is rejected while the others load.
 *
 * @example
 * ```ts
 * const parsed = parseMetadata(await Deno.readFile("sessions-metadata.json"));
 * if (parsed.ok) console.log(parsed.records.length, parsed.rejected.length);
 * ```
 */
export function parseMetadata(bytes: Uint8Array): ParsedMetadata {
  let document: unknown;
  try {
    document = JSON.parse(decoder.decode(bytes));
  } catch (error) {
    return { ok: false, reason: `not valid UTF-8 JSON: ${(error as Error).message}` };
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    const shape = document === null
      ? "null"
      : Array.isArray(document)
      ? "an array"
      : typeof document;
    return { ok: false, reason: `expected a JSON object keyed by session id, found ${shape}` };
  }
  const records: SessionRecord[] = [];
  const rejected: RejectedEntry[] = [];
  for (const [key, value] of Object.entries(document)) {
    const checked = checkEntry(key, value);
    if ("reason" in checked) rejected.push({ key, reason: checked.reason, value });
    else records.push(checked.record);
  }
  return { ok: true, records, rejected };
}

function checkEntry(key: string, value: unknown): { record: SessionRecord } | { reason: string } {
  if (!isSessionId(key)) return { reason: "key is not a valid session id" };
  const parsed = SessionRecordSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) =>
      `${issue.path.join(".") || "(entry)"}: ${issue.message}`
    );
    return { reason: issues.join("; ") };
  }
  if (parsed.data.id !== key) return { reason: `id '${parsed.data.id}' does not match its key` };
  return { record: parsed.data };
}

const OPEN = encoder.encode("{\n");
const SEPARATOR = encoder.encode(",\n");
const CLOSE = encoder.encode("\n}\n");

/**
 * The metadata file's content, kept encoded entry by entry so that writing it after a change
 * re-encodes only the changed entry: with 10,000 sessions, encoding them all again on every write
 * would cost more than the write itself. One entry per line keeps the file readable and diffable.
 *
 * @example
 * ```ts
 * const document = new MetadataDocument();
 * document.set(record);
 * await writeFileAtomic(path, document.toBytes());
 * ```
 */
export class MetadataDocument {
  readonly #entries = new Map<string, Uint8Array>();

  /** Adds or replaces a record's entry. */
  set(record: SessionRecord): void {
    this.#entries.set(
      record.id,
      encoder.encode(`  ${JSON.stringify(record.id)}: ${JSON.stringify(record)}`),
    );
  }

  /** Removes a session's entry; returns whether there was one. */
  delete(id: string): boolean {
    return this.#entries.delete(id);
  }

  /** Removes every entry. */
  clear(): void {
    this.#entries.clear();
  }

  /** The whole file: a JSON object keyed by session id. */
  toBytes(): Uint8Array {
    if (this.#entries.size === 0) return encoder.encode("{}\n");
    let length = OPEN.length + CLOSE.length + SEPARATOR.length * (this.#entries.size - 1);
    for (const entry of this.#entries.values()) length += entry.length;
    const bytes = new Uint8Array(length);
    let offset = 0;
    const put = (chunk: Uint8Array) => {
      bytes.set(chunk, offset);
      offset += chunk.length;
    };
    put(OPEN);
    let first = true;
    for (const entry of this.#entries.values()) {
      if (!first) put(SEPARATOR);
      put(entry);
      first = false;
    }
    put(CLOSE);
    return bytes;
  }
}

/**
 * Serialises records into the metadata file format.
 *
 * @example
 * ```ts
 * await writeFileAtomic(path, serializeMetadata(records));
 * ```
 */
export function serializeMetadata(records: Iterable<SessionRecord>): Uint8Array {
  const document = new MetadataDocument();
  for (const record of records) document.set(record);
  return document.toBytes();
}

/**
 * A record for a session whose metadata was lost but whose auth folder exists: `disconnected`,
 * created when the folder was.
 *
 * @example
 * ```ts
 * const record = recoveredRecord(id, new Date(folderInfo.birthtime ?? Date.now()));
 * ```
 */
export function recoveredRecord(id: SessionId, createdAt: Date): SessionRecord {
  return SessionRecordSchema.parse({
    id,
    status: "disconnected",
    createdAt: createdAt.toISOString(),
  });
}
