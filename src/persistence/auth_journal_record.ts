import { createHash } from "node:crypto";
import { authFileNameProblem } from "./auth_file_name.ts";

/**
 * The binary framing of one auth journal record: the changes of one committed batch, as stored
 * (after the codec), so an encrypting codec never puts plaintext in the journal.
 *
 * ```
 * record  := magic u32 "WAJ1" | payloadLength u32 | sha256(payload) 32 bytes | payload
 * payload := count u32 | count × (nameLength u16 | name UTF-8 | dataLength u32 | data)
 * ```
 *
 * Integers are little-endian; a `dataLength` of 0xFFFFFFFF marks a deletion (no data follows).
 * A record that ends early or fails its checksum was torn by a crash while it was being
 * appended, and so was never acknowledged: decoding stops there.
 */

/** Bytes before a record's payload: magic, payload length and SHA-256 of the payload. */
export const JOURNAL_HEADER_BYTES = 40;

const MAGIC = 0x57414a31; // "WAJ1"
const DELETED = 0xffffffff;
const MAX_NAME_BYTES = 0xffff;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The changes of one journal record: bytes replace a file, `null` deletes it. */
export type JournalChanges = Map<string, Uint8Array | null>;

/** What {@linkcode decodeJournalRecords} found in a journal. */
export interface DecodedJournal {
  /** The whole records, in the order they were appended. */
  records: JournalChanges[];
  /** How many bytes those records span; the rest of the journal is ignored. */
  validBytes: number;
  /** Why decoding stopped before the end, or `null` when every byte belonged to a record. */
  problem: string | null;
}

/**
 * Frames one batch of changes as a journal record.
 *
 * @example
 * ```ts
 * const record = encodeJournalRecord(new Map([["creds.json", bytes], ["pre-key-1.json", null]]));
 * ```
 */
export function encodeJournalRecord(changes: ReadonlyMap<string, Uint8Array | null>): Uint8Array {
  const names = new Map<string, Uint8Array>();
  let payloadLength = 4;
  for (const [name, data] of changes) {
    const encodedName = encoder.encode(name);
    if (encodedName.length > MAX_NAME_BYTES) throw new RangeError(`name too long: ${name}`);
    if (data !== null && data.length >= DELETED) throw new RangeError(`file too large: ${name}`);
    names.set(name, encodedName);
    payloadLength += 2 + encodedName.length + 4 + (data?.length ?? 0);
  }
  const record = new Uint8Array(JOURNAL_HEADER_BYTES + payloadLength);
  const view = new DataView(record.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, payloadLength, true);
  let at = JOURNAL_HEADER_BYTES;
  view.setUint32(at, changes.size, true);
  at += 4;
  for (const [name, data] of changes) {
    const encodedName = names.get(name)!;
    view.setUint16(at, encodedName.length, true);
    record.set(encodedName, at + 2);
    at += 2 + encodedName.length;
    view.setUint32(at, data === null ? DELETED : data.length, true);
    at += 4;
    if (data !== null) {
      record.set(data, at);
      at += data.length;
    }
  }
  record.set(sha256(record.subarray(JOURNAL_HEADER_BYTES)), 8);
  return record;
}

/**
 * Reads the records of a journal up to the first one that is incomplete or damaged.
 *
 * @example
 * ```ts
 * const { records, problem } = decodeJournalRecords(await Deno.readFile(path));
 * ```
 */
export function decodeJournalRecords(journal: Uint8Array): DecodedJournal {
  const records: JournalChanges[] = [];
  const view = new DataView(journal.buffer, journal.byteOffset, journal.byteLength);
  let at = 0;
  const stop = (problem: string): DecodedJournal => ({
    records,
    validBytes: at,
    problem: `${problem} at byte ${at}`,
  });
  while (at < journal.length) {
    if (journal.length - at < JOURNAL_HEADER_BYTES) return stop("incomplete record header");
    if (view.getUint32(at, true) !== MAGIC) return stop("no record marker");
    const payloadLength = view.getUint32(at + 4, true);
    const start = at + JOURNAL_HEADER_BYTES;
    if (journal.length - start < payloadLength) return stop("incomplete record");
    const payload = journal.subarray(start, start + payloadLength);
    if (!equalBytes(sha256(payload), journal.subarray(at + 8, start))) {
      return stop("record checksum mismatch");
    }
    const changes = decodePayload(payload);
    if (typeof changes === "string") return stop(`malformed record (${changes})`);
    records.push(changes);
    at = start + payloadLength;
  }
  return { records, validBytes: at, problem: null };
}

/** The changes of a checksummed payload, or why they cannot be used. */
function decodePayload(payload: Uint8Array): JournalChanges | string {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const changes: JournalChanges = new Map();
  if (payload.length < 4) return "no entry count";
  const count = view.getUint32(0, true);
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (payload.length - at < 2) return "entry cut short";
    const nameLength = view.getUint16(at, true);
    at += 2;
    if (payload.length - at < nameLength + 4) return "entry cut short";
    let name: string;
    try {
      name = decoder.decode(payload.subarray(at, at + nameLength));
    } catch {
      return "file name is not UTF-8";
    }
    const problem = authFileNameProblem(name);
    if (problem !== null) return `file name ${JSON.stringify(name.slice(0, 80))} ${problem}`;
    at += nameLength;
    const dataLength = view.getUint32(at, true);
    at += 4;
    if (dataLength === DELETED) {
      changes.set(name, null);
      continue;
    }
    if (payload.length - at < dataLength) return "entry cut short";
    changes.set(name, payload.slice(at, at + dataLength));
    at += dataLength;
  }
  if (at !== payload.length) return "bytes after the last entry";
  return changes;
}

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
