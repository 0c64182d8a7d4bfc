/**
 * The lines of a session's message log (`.message-store/<sessionId>/messages.jsonl`) and their
 * encoding. Every line is `{"op", "id", "body"}`: `body` is the record's data as JSON, or, with an
 * encryption key, that JSON as a sealed value bound to the session, the operation and the id, so
 * a line copied to another session or message fails to open.
 */
import { Buffer } from "node:buffer";
import { z } from "zod";
import { MESSAGE_STATUSES } from "../../domain/message.ts";
import type { IdempotencyRecord, MessagePatch, StoredMessage } from "../../domain/message_store.ts";
import { isSealed, type ValueSealer } from "../sealed_value.ts";

/** One decoded line. */
export type MessageLogRecord =
  | { op: "put"; id: string; message: StoredMessage }
  | { op: "patch"; id: string; patch: MessagePatch }
  | { op: "idem"; id: string; record: IdempotencyRecord }
  | { op: "idem-del"; id: string };

const KeySchema = z.object({
  remoteJid: z.string(),
  fromMe: z.boolean(),
  id: z.string(),
  participant: z.string().optional(),
  remoteJidAlt: z.string().optional(),
  participantAlt: z.string().optional(),
});

const base64 = z.string().transform((value) => new Uint8Array(Buffer.from(value, "base64")));

const MessageBodySchema = z.object({
  key: KeySchema,
  chat: z.string(),
  sender: z.string().nullable(),
  fromMe: z.boolean(),
  pushName: z.string().nullable(),
  timestamp: z.number(),
  status: z.enum(MESSAGE_STATUSES).nullable(),
  read: z.boolean(),
  type: z.string(),
  text: z.string().nullable(),
  content: base64,
  editedAt: z.number().nullable(),
  deletedAt: z.number().nullable(),
});

const PatchBodySchema = z.object({
  status: z.enum(MESSAGE_STATUSES).optional(),
  read: z.boolean().optional(),
  text: z.string().nullable().optional(),
  content: base64.optional(),
  editedAt: z.number().optional(),
  deletedAt: z.number().optional(),
});

const IdempotencyBodySchema = z.object({
  requestHash: z.string(),
  messageId: z.string(),
  createdAt: z.number(),
  expiresAfterMs: z.number(),
  response: z.object({ status: z.number().int(), body: z.record(z.string(), z.unknown()) })
    .nullable(),
});

const LineSchema = z.object({
  op: z.enum(["put", "patch", "idem", "idem-del"]),
  id: z.string().min(1),
  body: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
});

const sealContext = (sessionId: string, op: string, id: string) =>
  `message-store:${sessionId}:${op}:${id}`;

/** The JSON line of a record, its body sealed when a sealer is given. */
export function encodeRecord(
  sessionId: string,
  record: MessageLogRecord,
  sealer: ValueSealer | undefined,
): unknown {
  const body = recordBody(record);
  if (body === undefined) return { op: record.op, id: record.id };
  return {
    op: record.op,
    id: record.id,
    body: sealer
      ? sealer.seal(JSON.stringify(body), sealContext(sessionId, record.op, record.id))
      : body,
  };
}

function recordBody(record: MessageLogRecord): Record<string, unknown> | undefined {
  switch (record.op) {
    case "put": {
      const { id: _id, content, ...rest } = record.message;
      return { ...rest, content: Buffer.from(content).toString("base64") };
    }
    case "patch": {
      const { id: _id, content, ...rest } = record.patch;
      return content ? { ...rest, content: Buffer.from(content).toString("base64") } : rest;
    }
    case "idem": {
      const { key: _key, ...rest } = record.record;
      return rest;
    }
    case "idem-del":
      return undefined;
  }
}

/** What a line's sealed body needs: a sealer, or `null` to report sealed lines. */
export type Opener = (sealed: string, context: string) => string | null;

/**
 * The schema of a stored line of `sessionId`'s log. A sealed body that `open` cannot open makes
 * the line invalid (the log keeps a copy of the file, like for any other invalid line).
 */
export function recordSchema(sessionId: string, open: Opener): z.ZodType<MessageLogRecord> {
  return LineSchema.transform((line, ctx): MessageLogRecord => {
    let body: unknown = line.body;
    if (typeof body === "string") {
      if (!isSealed(body)) return invalid(ctx, "body is neither JSON nor sealed");
      const opened = open(body, sealContext(sessionId, line.op, line.id));
      if (opened === null) return invalid(ctx, "body does not decrypt with the key");
      try {
        body = JSON.parse(opened);
      } catch {
        return invalid(ctx, "sealed body is not JSON");
      }
    }
    switch (line.op) {
      case "put": {
        const parsed = MessageBodySchema.safeParse(body);
        if (!parsed.success) return invalid(ctx, parsed.error.message);
        return { op: "put", id: line.id, message: { id: line.id, ...parsed.data } };
      }
      case "patch": {
        const parsed = PatchBodySchema.safeParse(body);
        if (!parsed.success) return invalid(ctx, parsed.error.message);
        return { op: "patch", id: line.id, patch: { id: line.id, ...parsed.data } };
      }
      case "idem": {
        const parsed = IdempotencyBodySchema.safeParse(body);
        if (!parsed.success) return invalid(ctx, parsed.error.message);
        return { op: "idem", id: line.id, record: { key: line.id, ...parsed.data } };
      }
      case "idem-del":
        return { op: "idem-del", id: line.id };
    }
  }) as unknown as z.ZodType<MessageLogRecord>;
}

function invalid(ctx: z.RefinementCtx, message: string): never {
  ctx.addIssue({ code: "custom", message });
  return z.NEVER;
}

/** Whether a raw line (already JSON) holds a sealed body: the store then needs a key. */
export function hasSealedBody(line: unknown): boolean {
  const body = (line as { body?: unknown } | null)?.body;
  return typeof body === "string" && isSealed(body);
}

/**
 * A log line moved to another key, for a key rotation: the body opened with `to` or `from`
 * when sealed, then sealed with `to` (or left as JSON without it). `null` when neither opens it.
 */
export function resealLine(
  sessionId: string,
  line: Record<string, unknown>,
  from: ValueSealer | undefined,
  to: ValueSealer | undefined,
): Record<string, unknown> | null {
  const { op, id, body } = line as { op?: unknown; id?: unknown; body?: unknown };
  if (typeof op !== "string" || typeof id !== "string" || body === undefined) return line;
  const context = sealContext(sessionId, op, id);
  let json: string | null;
  if (typeof body === "string" && isSealed(body)) {
    json = null;
    for (const sealer of [to, from]) {
      if (!sealer || json !== null) continue;
      try {
        json = sealer.open(body, context);
      } catch {
        // the other key, or none
      }
    }
    if (json === null) return null;
  } else {
    json = JSON.stringify(body);
  }
  return { op, id, body: to ? to.seal(json, context) : JSON.parse(json) };
}
