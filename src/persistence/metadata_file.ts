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

/**
 * Serialises records into the metadata file format: one entry per line, so the file stays
 * readable and diffable without paying for full pretty-printing of thousands of sessions.
 *
 * @example
 * ```ts
 * await writeFileAtomic(path, serializeMetadata(records.values()));
 * ```
 */
export function serializeMetadata(records: Iterable<SessionRecord>): Uint8Array {
  const lines: string[] = [];
  for (const record of records) {
    lines.push(`  ${JSON.stringify(record.id)}: ${JSON.stringify(record)}`);
  }
  return encoder.encode(lines.length ? `{\n${lines.join(",\n")}\n}\n` : "{}\n");
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
