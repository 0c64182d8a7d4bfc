import { z } from "@hono/zod-openapi";
import { MEDIA_KINDS } from "../domain/media.ts";
import { MIMETYPE_PATTERN } from "../media/media_type_rules.ts";
import { messageIdField, SendMessageBodySchema } from "./message_schemas.ts";
import { recipientField } from "./recipient_field.ts";

/** The longest caption WhatsApp shows. */
export const MAX_CAPTION_LENGTH = 4_096;
/** How many people one message may mention. */
export const MAX_MENTIONS = 256;

/** The kinds a caption goes with (audio, voice notes and stickers have none). */
const CAPTIONED = new Set(["image", "video", "document"]);

const mimetypeField = z
  .string()
  .max(255)
  .regex(MIMETYPE_PATTERN, "must be a mimetype such as image/jpeg")
  .openapi({ example: "image/jpeg" });

/** What a media message says besides its file, in JSON and in multipart form fields alike. */
const mediaFields = {
  type: z.enum(MEDIA_KINDS).openapi({
    description: "`voice` is a push-to-talk note (ogg/opus); `sticker` a webp image.",
  }),
  to: recipientField,
  caption: z.string().min(1).max(MAX_CAPTION_LENGTH).optional().openapi({
    description: "Images, videos and documents only.",
  }),
  // deno-lint-ignore no-control-regex -- control characters are what it refuses
  fileName: z.string().min(1).max(255).regex(/^[^\u0000-\u001f/\\]+$/, "must be a plain file name")
    .optional().openapi({ description: "Documents only: the name it is shown with." }),
  quotedMessageId: messageIdField.optional().openapi({
    description: "Sends it as a reply to this message of the same chat.",
  }),
  mentions: z.array(recipientField).min(1).max(MAX_MENTIONS).optional().openapi({
    description: "Phone numbers or user JIDs mentioned (write `@<number>` in the caption).",
  }),
};

/** Captions and file names only where WhatsApp has them. */
function checkFieldsFit(
  message: { type: string; caption?: string; fileName?: string },
  ctx: z.RefinementCtx,
): void {
  if (message.caption !== undefined && !CAPTIONED.has(message.type)) {
    ctx.addIssue({
      code: "custom",
      path: ["caption"],
      message: `a ${message.type} has no caption`,
    });
  }
  if (message.fileName !== undefined && message.type !== "document") {
    ctx.addIssue({
      code: "custom",
      path: ["fileName"],
      message: "only documents have a file name",
    });
  }
}

const MediaSourceSchema = z
  .union([
    z.object({
      url: z.url({ protocol: /^https?$/ }).max(4096).openapi({
        description: "Fetched by the gateway (loopback, private and link-local addresses refused " +
          "unless MEDIA_URL_ALLOWED_HOSTS allows them).",
      }),
      mimetype: mimetypeField.optional(),
    }).strict(),
    z.object({
      base64: z.string().openapi({ description: "The file, base64-encoded." }),
      mimetype: mimetypeField,
    }).strict(),
  ])
  .openapi("MediaSource");

/** `POST /api/sessions/{id}/messages` with a file, as JSON (`media`: a URL or base64). */
export const MediaMessageJsonSchema = z
  .object({ ...mediaFields, media: MediaSourceSchema })
  .strict()
  .superRefine(checkFieldsFit)
  .openapi("MediaMessage");

/** The same as `multipart/form-data`: a `file` part, the fields as form fields. */
export const MediaMessageFormSchema = z
  .object({
    ...mediaFields,
    mimetype: mimetypeField.optional().openapi({
      description: "The file's type, if the file part's Content-Type does not say it.",
    }),
    file: z.any().openapi({ type: "string", format: "binary" }),
  })
  .strict()
  .superRefine(checkFieldsFit)
  .openapi("MediaMessageForm");

/** A media message's fields once its file is in hand (multipart: the form fields). */
export const MediaFieldsSchema = z
  .object({ ...mediaFields, mimetype: mimetypeField.optional() })
  .strict()
  .superRefine(checkFieldsFit);

/**
 * `POST /api/sessions/{id}/messages` as JSON, any type: what the OpenAPI document shows. Media
 * bodies are read by `media_message_routes.ts` before the message route sees them.
 */
export const SendAnyMessageBodySchema = z
  .discriminatedUnion("type", [...SendMessageBodySchema.options, MediaMessageJsonSchema])
  .openapi("SendAnyMessage");
