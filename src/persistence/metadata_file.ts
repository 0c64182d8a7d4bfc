import { type SessionRecord, SessionRecordSchema } from "../domain/session.ts";
import { isSessionId, type SessionId } from "../domain/session_id.ts";
import {
  isSealed,
  resealValue,
  SealedValueError,
  sealedValueNeedsKey,
  type ValueSealer,
} from "./sealed_value.ts";

/** A metadata entry that failed validation, kept with the reason so it can be set aside. */
export interface RejectedEntry {
  key: string;
  reason: string;
  value: unknown;
}

/** What {@linkcode parseMetadata} made of the metadata file's bytes. */
export type ParsedMetadata =
  | {
    ok: true;
    records: SessionRecord[];
    rejected: RejectedEntry[];
    /** Webhook secrets stored as plaintext although a sealer was given (to be sealed). */
    plaintextSecrets: number;
  }
  | { ok: false; reason: string };

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * Parses and validates the metadata file: a JSON object keyed by session id. The file as a whole
 * fails (`ok: false`) when it is not UTF-8 JSON holding an object; otherwise each entry is checked
 * on its own, and one whose key is not a valid id, whose value fails `SessionRecordSchema`, or
 * whose `id` differs from its key is rejected while the others load.
 *
 * With a `sealer`, sealed webhook secrets are opened before validation (an entry whose secret does
 * not open is rejected). Without one, a sealed secret throws `EncryptionKeyError`
 * (`encryption_key_required`): the file needs the key, and nothing may be set aside for it.
 *
 * @example
 * ```ts
 * const parsed = parseMetadata(await Deno.readFile("sessions-metadata.json"));
 * if (parsed.ok) console.log(parsed.records.length, parsed.rejected.length);
 * ```
 */
export function parseMetadata(bytes: Uint8Array, sealer?: ValueSealer): ParsedMetadata {
  const read = readDocument(bytes);
  if ("reason" in read) return { ok: false, reason: read.reason };
  const { document } = read;
  const records: SessionRecord[] = [];
  const rejected: RejectedEntry[] = [];
  const secrets = { plaintext: 0 };
  for (const [key, value] of Object.entries(document)) {
    const checked = checkStoredRecord(key, value, sealer, secrets);
    if ("reason" in checked) rejected.push({ key, reason: checked.reason, value });
    else records.push(checked.record);
  }
  return { ok: true, records, rejected, plaintextSecrets: secrets.plaintext };
}

/** The file's JSON object, or why the file as a whole is unreadable. */
function readDocument(
  bytes: Uint8Array,
): { document: Record<string, unknown> } | { reason: string } {
  let document: unknown;
  try {
    document = JSON.parse(decoder.decode(bytes));
  } catch (error) {
    return { reason: `not valid UTF-8 JSON: ${(error as Error).message}` };
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    const shape = document === null
      ? "null"
      : Array.isArray(document)
      ? "an array"
      : typeof document;
    return { reason: `expected a JSON object keyed by session id, found ${shape}` };
  }
  return { document: document as Record<string, unknown> };
}

/**
 * Validates one stored record (a metadata file's entry, a database row) under its key: the key
 * must be a valid id equal to the record's, sealed webhook secrets must open, and the record must
 * pass `SessionRecordSchema`. Counts the plaintext secrets it met in `secrets`.
 *
 * @example
 * ```ts
 * const checked = checkStoredRecord("shop-1", value, sealer, { plaintext: 0 });
 * if ("reason" in checked) report(checked.reason);
 * ```
 */
export function checkStoredRecord(
  key: string,
  value: unknown,
  sealer: ValueSealer | undefined,
  secrets: { plaintext: number } = { plaintext: 0 },
): { record: SessionRecord } | { reason: string } {
  if (!isSessionId(key)) return { reason: "key is not a valid session id" };
  const opened = openWebhookSecrets(key, value, sealer, secrets);
  if ("reason" in opened) return opened;
  const parsed = SessionRecordSchema.safeParse(opened.value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) =>
      `${issue.path.join(".") || "(entry)"}: ${issue.message}`
    );
    return { reason: issues.join("; ") };
  }
  if (parsed.data.id !== key) return { reason: `id '${parsed.data.id}' does not match its key` };
  return { record: parsed.data };
}

/** What a webhook secret is bound to when sealed: its session and its URL. */
function webhookSecretContext(sessionId: string, url: unknown): string {
  return `webhook-secret:${sessionId}:${String(url)}`;
}

/** The entry with its sealed webhook secrets opened (a copy; the stored value is kept as is). */
function openWebhookSecrets(
  sessionId: string,
  value: unknown,
  sealer: ValueSealer | undefined,
  secrets: { plaintext: number },
): { value: unknown } | { reason: string } {
  const webhooks = (value as { webhooks?: unknown })?.webhooks;
  if (!Array.isArray(webhooks)) return { value };
  const opened: unknown[] = [];
  for (const [index, hook] of webhooks.entries()) {
    const secret = (hook as { secret?: unknown })?.secret;
    if (typeof secret !== "string" || !isSealed(secret)) {
      if (typeof secret === "string" && sealer) secrets.plaintext++;
      opened.push(hook);
      continue;
    }
    if (!sealer) throw sealedValueNeedsKey("sessions-metadata.json");
    try {
      const url = (hook as { url?: unknown }).url;
      opened.push({ ...hook, secret: sealer.open(secret, webhookSecretContext(sessionId, url)) });
    } catch (error) {
      if (!(error instanceof SealedValueError)) throw error;
      return { reason: `webhooks.${index}.secret: ${error.message}` };
    }
  }
  return { value: { ...(value as object), webhooks: opened } };
}

/**
 * The record as stored: webhook secrets sealed when there is a sealer.
 *
 * @example
 * ```ts
 * const stored = storedRecord(record, sealer);
 * ```
 */
export function storedRecord(
  record: SessionRecord,
  sealer: ValueSealer | undefined,
): SessionRecord {
  if (!sealer || !record.webhooks?.length) return record;
  return {
    ...record,
    webhooks: record.webhooks.map((hook) => ({
      ...hook,
      secret: sealer.seal(hook.secret, webhookSecretContext(record.id, hook.url)),
    })),
  };
}

const OPEN = encoder.encode("{\n");
const SEPARATOR = encoder.encode(",\n");
const CLOSE = encoder.encode("\n}\n");

/**
 * The metadata file's content, kept encoded entry by entry so that writing it after a change
 * re-encodes only the changed entry: with 10,000 sessions, encoding them all again on every write
 * would cost more than the write itself. One entry per line keeps the file readable and diffable.
 * With a sealer, webhook secrets are written sealed.
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
  readonly #sealer?: ValueSealer;

  constructor(sealer?: ValueSealer) {
    this.#sealer = sealer;
  }

  /** Adds or replaces a record's entry. */
  set(record: SessionRecord): void {
    this.setRaw(record.id, storedRecord(record, this.#sealer));
  }

  /** Adds or replaces an entry exactly as given (no validation, no sealing). */
  setRaw(key: string, value: unknown): void {
    this.#entries.set(key, encoder.encode(`  ${JSON.stringify(key)}: ${JSON.stringify(value)}`));
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
export function serializeMetadata(
  records: Iterable<SessionRecord>,
  sealer?: ValueSealer,
): Uint8Array {
  const document = new MetadataDocument(sealer);
  for (const record of records) document.set(record);
  return document.toBytes();
}

/**
 * The metadata file with every webhook secret moved from one key to another, for a key rotation:
 * a sealed secret is opened with `from` (or with `to`, when a rotation that was cut short already
 * moved it), a plaintext one taken as it is; each is then sealed with `to`, or left plaintext
 * without it. A secret neither key opens is left as it is (the next open sets its entry aside) and
 * counted. `null` when the bytes are not a metadata object (the next open sets them aside).
 *
 * @example
 * ```ts
 * const resealed = resealWebhookSecrets(await Deno.readFile(path), oldSealer, newSealer);
 * if (resealed) await writeFileAtomic(path, resealed.bytes);
 * ```
 */
export function resealWebhookSecrets(
  bytes: Uint8Array,
  from: ValueSealer | undefined,
  to: ValueSealer | undefined,
): { bytes: Uint8Array; unreadable: number } | null {
  const read = readDocument(bytes);
  if ("reason" in read) return null;
  const out = new MetadataDocument();
  let unreadable = 0;
  for (const [key, value] of Object.entries(read.document)) {
    const webhooks = (value as { webhooks?: unknown })?.webhooks;
    if (!Array.isArray(webhooks)) {
      out.setRaw(key, value);
      continue;
    }
    const resealed = webhooks.map((hook) => {
      const { secret, url } = (hook ?? {}) as { secret?: unknown; url?: unknown };
      if (typeof secret !== "string") return hook;
      const moved = resealValue(secret, webhookSecretContext(key, url), from, to);
      if (moved === null) {
        unreadable++;
        return hook;
      }
      return { ...hook, secret: moved };
    });
    out.setRaw(key, { ...(value as object), webhooks: resealed });
  }
  return { bytes: out.toBytes(), unreadable };
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
