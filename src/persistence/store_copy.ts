import { isDeepStrictEqual } from "node:util";
import type { Fence } from "../domain/fence.ts";
import type { MessageStore, SessionMessagesDump } from "../domain/message_store.ts";
import type { SessionRecord } from "../domain/session.ts";
import type { SessionId } from "../domain/session_id.ts";
import type { SessionStore } from "../domain/session_store.ts";
import type { DeadLetter, OutboxEntry, WebhookOutbox } from "../domain/webhook_outbox.ts";
import { recoveredRecord } from "./metadata_file.ts";

/** Auth files copied per write batch (bounds memory; a pairing leaves about 800). */
const AUTH_BATCH = 500;
/** Messages copied per put. */
const MESSAGE_BATCH = 500;
/** A claim long enough for the whole copy: no gateway runs on either side meanwhile. */
const CLAIM_TTL_MS = 3_600_000;

/** One side of a copy: a store, its outbox and its message store, opened. */
export interface StoreSide {
  store: SessionStore;
  outbox: WebhookOutbox;
  messages: MessageStore;
}

/** What a copy moved (and then found again on the other side). */
export interface CopyReport {
  sessions: number;
  authFiles: number;
  pendingDeliveries: number;
  deadLetters: number;
  /** Stored messages and idempotency records. */
  messages: number;
  idempotencyRecords: number;
}

/** The copy found something on the other side that differs from what it copied. */
export class CopyVerificationError extends Error {
  constructor(readonly problems: string[]) {
    super(`The copy does not match its source:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "CopyVerificationError";
  }
}

/**
 * Copies every session (its record, auth files, stored messages and idempotency records) and
 * every webhook delivery not yet made (and dead letter) from one opened side into another,
 * whatever their kinds. Auth files and messages go through each side's encoding, so they are
 * re-encrypted as the target stores them; sessions that have auth files but no record get a
 * recovered one, as a restore would. Messages are put in the order they were stored, so the
 * target's size cap drops the same ones first. `fenceFor` gives the fence the target accepts
 * for a session's writes (called once per session).
 *
 * @example
 * ```ts
 * const report = await copyStore(fileSide, postgresSide, (id) => leaseFor(id));
 * ```
 */
export async function copyStore(
  from: StoreSide,
  to: StoreSide,
  fenceFor: (id: SessionId) => Promise<Fence>,
  sourceFence: (id: SessionId) => Fence,
): Promise<CopyReport> {
  const records = new Map((await from.store.list()).map((record) => [record.id, record]));
  const withAuth = await from.store.listAuth();
  for (const id of withAuth) {
    if (!records.has(id)) records.set(id, recoveredRecord(id, new Date()));
  }
  let authFiles = 0;
  let messages = 0;
  let idempotencyRecords = 0;
  for (const record of records.values()) {
    await to.store.create(record);
    let fence: Fence | undefined;
    const targetFence = async () => fence ??= await fenceFor(record.id);
    const dump = await from.messages.dump(record.id);
    if (dump.messages.length + dump.idempotency.length > 0) {
      await copyMessages(dump, to.messages, await targetFence());
      messages += dump.messages.length;
      idempotencyRecords += dump.idempotency.length;
    }
    const source = from.store.auth(sourceFence(record.id));
    const names = await source.list();
    if (names.length === 0) continue;
    const target = to.store.auth(await targetFence());
    // creds.json last, as every rewrite of a folder does: a copy cut short is never mistaken
    // for a whole one.
    names.sort((a, b) => (a === "creds.json" ? 1 : b === "creds.json" ? -1 : a < b ? -1 : 1));
    for (let start = 0; start < names.length; start += AUTH_BATCH) {
      const batch = new Map<string, Uint8Array | null>();
      for (const name of names.slice(start, start + AUTH_BATCH)) {
        const data = await source.read(name);
        if (data !== undefined) batch.set(name, data);
      }
      await target.write(batch);
      authFiles += batch.size;
    }
  }
  const pending = await from.outbox.claim(CLAIM_TTL_MS);
  if (pending.length > 0) await to.outbox.append(pending.map(newEntry));
  // Failed attempts go along: WEBHOOK_MAX_ATTEMPTS counts on from where the source was.
  for (const entry of pending) {
    if (entry.attempts > 0) await to.outbox.recordFailedAttempts(entry.id, entry.attempts);
  }
  const letters = await from.outbox.deadLetters();
  for (const letter of letters) {
    const [entry] = await to.outbox.append([newEntry(letter.entry)]);
    await to.outbox.deadLetter(entry, { attempts: letter.attempts, lastError: letter.lastError });
  }
  await from.outbox.release();
  await to.outbox.release();
  return {
    sessions: records.size,
    authFiles,
    pendingDeliveries: pending.length,
    deadLetters: letters.length,
    messages,
    idempotencyRecords,
  };
}

async function copyMessages(dump: SessionMessagesDump, to: MessageStore, fence: Fence) {
  for (let start = 0; start < dump.messages.length; start += MESSAGE_BATCH) {
    await to.put(fence, dump.messages.slice(start, start + MESSAGE_BATCH));
  }
  for (const { response, ...record } of dump.idempotency) {
    await to.idempotency.claim(fence, record);
    if (response) await to.idempotency.complete(fence, record.key, response);
  }
}

/**
 * Compares a target (reopened after the copy) with its source: every record equal, every auth
 * file present with the same bytes, every session's messages (in store order) and idempotency
 * records equal, the same deliveries pending (in the same order per queue, with their failed
 * attempts) and the same dead letters. Throws `CopyVerificationError` listing every difference.
 *
 * @example
 * ```ts
 * await verifyCopy(fileSide, reopenedPostgresSide, singleOwnerFence, leaseFence);
 * ```
 */
export async function verifyCopy(
  from: StoreSide,
  to: StoreSide,
  sourceFence: (id: SessionId) => Fence,
  targetFence: (id: SessionId) => Fence,
): Promise<void> {
  const problems: string[] = [];
  const targetRecords = new Map((await to.store.list()).map((record) => [record.id, record]));
  const sourceRecords = await from.store.list();
  for (const record of sourceRecords) {
    const copied = targetRecords.get(record.id);
    if (!copied) problems.push(`session ${record.id} is missing`);
    else if (!isDeepStrictEqual(normalized(copied), normalized(record))) {
      problems.push(`session ${record.id} differs`);
    }
  }
  for (const record of sourceRecords) {
    const [a, b] = await Promise.all([
      from.messages.dump(record.id),
      to.messages.dump(record.id),
    ]);
    if (!isDeepStrictEqual(comparable(a), comparable(b))) {
      problems.push(
        `stored messages of ${record.id} differ (${a.messages.length} in the source, ` +
          `${b.messages.length} copied)`,
      );
    }
  }
  for (const id of await from.store.listAuth()) {
    const source = from.store.auth(sourceFence(id));
    const target = to.store.auth(targetFence(id));
    const names = await source.list();
    const copiedNames = new Set(await target.list());
    for (const name of names) {
      if (!copiedNames.has(name)) {
        problems.push(`auth file ${id}/${name} is missing`);
        continue;
      }
      const [a, b] = await Promise.all([source.read(name), target.read(name)]);
      if (!a || !b || !sameBytes(a, b)) problems.push(`auth file ${id}/${name} differs`);
    }
  }
  const deliveries = (entries: OutboxEntry[]) =>
    entries.map((entry) => `${entry.id}:${entry.attempts}`);
  const [sourcePending, targetPending] = [
    deliveries(await from.outbox.claim(CLAIM_TTL_MS)),
    deliveries(await to.outbox.claim(CLAIM_TTL_MS)),
  ];
  if (!isDeepStrictEqual(sourcePending, targetPending)) {
    problems.push(
      `pending deliveries differ (${sourcePending.length} in the source, ${targetPending.length} copied)`,
    );
  }
  const letters = (all: DeadLetter[]) => all.map((letter) => letter.entry.id).sort();
  if (
    !isDeepStrictEqual(
      letters(await from.outbox.deadLetters()),
      letters(await to.outbox.deadLetters()),
    )
  ) {
    problems.push("dead letters differ");
  }
  await from.outbox.release();
  await to.outbox.release();
  if (problems.length > 0) throw new CopyVerificationError(problems);
}

function newEntry(entry: OutboxEntry) {
  const { seq: _seq, generation: _generation, attempts: _attempts, ...rest } = entry;
  return rest;
}

/** A record as compared: fields a store may leave out when empty count as absent. */
function normalized(record: SessionRecord): SessionRecord {
  const { webhooks, ...rest } = record;
  return (webhooks?.length ? { ...rest, webhooks } : rest) as SessionRecord;
}

/** A dump as compared: message contents as plain bytes, whatever the views' classes. */
function comparable(dump: SessionMessagesDump) {
  return {
    messages: dump.messages.map((message) => ({ ...message, content: [...message.content] })),
    idempotency: dump.idempotency,
  };
}

/** Byte equality, whatever the views' classes (the database client hands out `Buffer`s). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
