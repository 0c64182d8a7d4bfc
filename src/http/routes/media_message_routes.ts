/**
 * Sending files: `POST /api/sessions/{id}/messages` with a media `type`, as JSON (`media.url` or
 * `media.base64`) or as `multipart/form-data` (a `file` part). It runs before the message route's
 * own validation and answers media requests itself; any other message goes on to that route. The
 * request may be as large as `MAX_MEDIA_BYTES` plus base64's third plus `MAX_BODY_BYTES`; the
 * file is staged as it arrives, checked, sent, and removed whatever happens.
 */
import type { Context } from "hono";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { ValidationError } from "../../domain/errors.ts";
import { isMediaKind, type MediaKind } from "../../domain/media.ts";
import {
  normalizeRecipient,
  type OutgoingMediaMessage,
  sentContent,
} from "../../domain/message.ts";
import type { IdempotentSends } from "../../domain/idempotent_sends.ts";
import { IdempotencyHeadersSchema } from "../idempotency_key.ts";
import { sendOnce } from "../idempotent_send.ts";
import type { SessionManager } from "../../domain/session_manager.ts";
import type { IncomingFile, MediaIntake } from "../../media/media_intake.ts";
import { multipartBoundary } from "../../media/multipart_reader.ts";
import { validationErrorResponse } from "../error_handler.ts";
import { MediaFieldsSchema, MediaMessageJsonSchema } from "../media_message_schemas.ts";
import {
  limitedBody,
  readJsonMessageBody,
  readMultipartMessageBody,
  tooLarge,
} from "../media_request_body.ts";

export interface MediaMessageRouteDependencies {
  manager: SessionManager;
  /** Sends with an `Idempotency-Key`, as for every other message. */
  idempotentSends: IdempotentSends;
  intake: MediaIntake;
  /** `MAX_BODY_BYTES`: what a request may hold besides its file. */
  maxBodyBytes: number;
}

/** The path media sends share with other messages. */
export const SEND_MESSAGE_PATH = /^\/api\/sessions\/[^/]+\/messages$/;

/**
 * The largest send request: a file of `maxMediaBytes` in base64 (a third more, and padding) plus
 * `maxBodyBytes` for the rest.
 *
 * @example
 * ```ts
 * mediaRequestLimit(64 * 2 ** 20, 2 ** 20); // 90_439_684
 * ```
 */
export function mediaRequestLimit(maxMediaBytes: number, maxBodyBytes: number): number {
  return 4 * Math.ceil(maxMediaBytes / 3) + maxBodyBytes;
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\b/i;
const MULTIPART_TYPE = /^multipart\/form-data\b/i;

/** Registers the media half of `POST /api/sessions/{id}/messages` (before the message route). */
export function registerMediaMessageRoutes(
  app: OpenAPIHono,
  deps: MediaMessageRouteDependencies,
): void {
  const limit = mediaRequestLimit(deps.intake.maxBytes, deps.maxBodyBytes);
  app.post("/api/sessions/:id/messages", async (c, next) => {
    if (Number(c.req.header("content-length")) > limit) throw tooLarge(limit);
    const type = c.req.header("content-type") ?? "";
    const body = limitedBody(c.req.raw.body, limit);
    if (MULTIPART_TYPE.test(type)) return await sendMultipart(c, deps, type, body);
    if (!JSON_TYPE.test(type)) {
      // Not a body this route reads: the message route answers it (415, or 400 without one).
      if (Number(c.req.header("content-length")) > deps.maxBodyBytes) {
        throw tooLarge(deps.maxBodyBytes);
      }
      return await next();
    }
    const parsed = await readJsonMessageBody(body, deps.intake, deps.maxBodyBytes);
    const kind = (parsed.value as { type?: unknown } | null)?.type;
    if (typeof kind !== "string" || !isMediaKind(kind)) {
      if (parsed.staged) await deps.intake.discard(parsed.staged);
      if (parsed.text === undefined) throw tooLarge(deps.maxBodyBytes);
      // Hand the body on to the message route, which validates it as any other message: Hono's
      // body cache holds promises (its typing says strings), and `json()` reads from it.
      (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(parsed.text);
      return await next();
    }
    let file: IncomingFile | undefined = parsed.staged ? { file: parsed.staged } : undefined;
    try {
      const checked = MediaMessageJsonSchema.safeParse(parsed.value);
      if (!checked.success) return validationErrorResponse(checked.error, c);
      const { media: source, ...fields } = checked.data;
      if ("url" in source) {
        deps.manager.assertCanSend(c.req.param("id"));
        file = await deps.intake.stageUrl(source.url);
      }
      const declared = source.mimetype ?? file?.declared;
      return await send(c, deps, { ...fields, ...(declared ? { mimetype: declared } : {}) }, file!);
    } finally {
      if (file) await deps.intake.discard(file.file);
    }
  });
}

async function sendMultipart(
  c: Context,
  deps: MediaMessageRouteDependencies,
  type: string,
  body: AsyncIterable<Uint8Array>,
): Promise<Response> {
  const boundary = multipartBoundary(type);
  // Refuse before reading a file that could not be sent.
  deps.manager.assertCanSend(c.req.param("id")!);
  const { fields, file } = await readMultipartMessageBody(
    body,
    boundary,
    deps.intake,
    deps.maxBodyBytes,
  );
  try {
    const checked = MediaFieldsSchema.safeParse(fields);
    if (!checked.success) return validationErrorResponse(checked.error, c);
    if (!file) {
      throw new ValidationError("Invalid request: file: a multipart message needs a file part");
    }
    const mimetype = checked.data.mimetype ?? file.declared;
    const fileName = checked.data.fileName ??
      (checked.data.type === "document" ? file.filename : undefined);
    return await send(c, deps, {
      ...checked.data,
      ...(mimetype ? { mimetype } : {}),
      ...(fileName ? { fileName } : {}),
    }, file);
  } finally {
    if (file) await deps.intake.discard(file.file);
  }
}

interface MediaFields {
  type: MediaKind;
  to: string;
  caption?: string;
  fileName?: string;
  quotedMessageId?: string;
  mentions?: string[];
  mimetype?: string;
}

/** Checks the staged file against its kind and sends it; 201 with WhatsApp's message id. */
async function send(
  c: Context,
  deps: MediaMessageRouteDependencies,
  fields: MediaFields,
  file: IncomingFile,
): Promise<Response> {
  if (file.file.size === 0) throw new ValidationError("Invalid request: media: the file is empty");
  const header = IdempotencyHeadersSchema.safeParse({
    "idempotency-key": c.req.header("idempotency-key"),
  });
  if (!header.success) return validationErrorResponse(header.error, c);
  const { to, mimetype, mentions, ...rest } = fields;
  const message: OutgoingMediaMessage = {
    ...rest,
    media: deps.intake.accept(fields.type, file.file, mimetype),
    ...(mentions ? { mentions: mentions.map((m) => normalizeRecipient(m)!) } : {}),
  };
  // The schema has checked the recipient; normalizing cannot fail here.
  const jid = normalizeRecipient(to)!;
  const sessionId = c.req.param("id")!;
  // A retry with the same key and the same file and fields is answered, not sent again.
  const answer = await sendOnce(deps, {
    sessionId,
    jid,
    type: fields.type,
    key: header.data["idempotency-key"],
    request: { to: jid, ...sentContent(message) },
  }, (messageId) => deps.manager.sendMessage(sessionId, jid, message, { messageId }));
  return c.json(answer, 201);
}
