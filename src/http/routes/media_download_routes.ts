/**
 * `GET /api/sessions/{id}/messages/{messageId}/media`: a stored message's file, downloaded from
 * WhatsApp on demand (or the cache), checked whole, and streamed decrypted. Always as an
 * attachment, never rendered: a contact chooses the mimetype, and the API shares its origin with
 * the dashboard.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { MediaNotFoundError } from "../../domain/errors.ts";
import type { SessionManager } from "../../domain/session_manager.ts";
import type { MediaDownloads, MediaReference } from "../../media/media_downloads.ts";
import { MIMETYPE_PATTERN } from "../../media/media_type_rules.ts";
import { messageIdField } from "../message_schemas.ts";
import { errorResponses, ErrorSchema, SessionIdParamsSchema } from "../schemas.ts";

const MediaParamsSchema = SessionIdParamsSchema.extend({ messageId: messageIdField });

const getMedia = createRoute({
  method: "get",
  path: "/api/sessions/{id}/messages/{messageId}/media",
  operationId: "downloadMessageMedia",
  tags: ["Messages"],
  summary: "Download a message's file",
  description: "The decrypted file of a stored media message (the `mediaPath` of " +
    "`message.received`, or a file this session sent), with its content type and a download " +
    "file name. Fetched from WhatsApp on demand and checked against the message's hashes; kept " +
    "in a size-capped cache (`MEDIA_CACHE_BYTES`). 404 `media_not_found` for an unknown message, " +
    "one without a file, or a file WhatsApp no longer has; 502 when WhatsApp sends other bytes " +
    "(none of them are passed on).",
  request: { params: MediaParamsSchema },
  responses: {
    200: {
      description: "The file",
      content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
    },
    ...errorResponses,
    502: {
      description: "WhatsApp's media server failed or sent a file that does not match",
      content: { "application/json": { schema: ErrorSchema } },
    },
  },
});

/** Extensions for the download name of a file that has none. */
const EXTENSIONS: Record<string, string> = {
  "image/jpeg": "jpg",
  "image/png": "png",
  "image/webp": "webp",
  "image/gif": "gif",
  "video/mp4": "mp4",
  "video/3gpp": "3gp",
  "audio/ogg": "ogg",
  "audio/mpeg": "mp3",
  "audio/mp4": "m4a",
  "audio/aac": "aac",
  "audio/amr": "amr",
  "application/pdf": "pdf",
};

/**
 * `Content-Disposition` for a download: the file's own name, or the message id and an extension
 * from its type; an ASCII fallback and the exact name (RFC 6266).
 *
 * @example
 * ```ts
 * attachmentHeader("3EB0", { mimetype: "image/jpeg" }); // 'attachment; filename="3EB0.jpg"; filename*=UTF-8\'\'3EB0.jpg'
 * ```
 */
export function attachmentHeader(
  messageId: string,
  ref: Pick<MediaReference, "mimetype" | "fileName">,
): string {
  const extension = EXTENSIONS[ref.mimetype.split(";")[0].trim().toLowerCase()] ?? "bin";
  // deno-lint-ignore no-control-regex -- control characters and path separators never pass
  const name = (ref.fileName ?? "").replace(/[\u0000-\u001f\u007f/\\]/g, "_").slice(0, 200) ||
    `${messageId}.${extension}`;
  const ascii = name.replace(/[^\x20-\x7e]|["%]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/** Registers the media download route. */
export function registerMediaDownloadRoutes(
  app: OpenAPIHono,
  manager: SessionManager,
  downloads: MediaDownloads,
): void {
  app.openapi(getMedia, async (c) => {
    const { id, messageId } = c.req.valid("param");
    const stored = await manager.storedMessage(id, messageId);
    if (!stored) throw new MediaNotFoundError(`Message '${messageId}' is not stored`);
    const { body, size, ref } = await downloads.openMessage(id, messageId, stored.content);
    const type = MIMETYPE_PATTERN.test(ref.mimetype) ? ref.mimetype : "application/octet-stream";
    return new Response(body, {
      status: 200,
      headers: {
        "content-type": type,
        "content-length": String(size),
        "content-disposition": attachmentHeader(messageId, ref),
        "x-content-type-options": "nosniff",
        "content-security-policy": "sandbox",
        "cache-control": "private, no-store",
      },
    });
  });
}
