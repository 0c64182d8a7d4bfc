/**
 * Which files each media kind takes, judged by their content, and whether a declared mimetype
 * fits that content. Images are JPEG or PNG, stickers WebP, videos MP4 or 3GPP, audio MP3, AAC,
 * MP4, Ogg or AMR, voice notes Ogg/Opus (what WhatsApp plays); a document may be anything, but a
 * declared type the content contradicts is refused like any other.
 */
import { UnsupportedMediaError } from "../domain/errors.ts";
import type { MediaKind } from "../domain/media.ts";
import { sniffContent, type SniffedContent } from "./content_sniffing.ts";

/**
 * A mimetype: `type/subtype` and optional `; name=value` parameters, at most 255 characters. Both
 * cases spelled out rather than the `i` flag, which the OpenAPI document cannot carry.
 */
export const MIMETYPE_PATTERN =
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(\s*;\s*[A-Za-z0-9_.-]+=("[^"]*"|[^";\s]*))*$/;

/** The content types each kind accepts (canonical, as `sniffContent` names them). */
const ACCEPTED: Record<Exclude<MediaKind, "document">, readonly string[]> = {
  image: ["image/jpeg", "image/png"],
  sticker: ["image/webp"],
  video: ["video/mp4", "video/3gpp"],
  audio: [
    "audio/mpeg",
    "audio/aac",
    "audio/mp4",
    "audio/ogg",
    "audio/ogg; codecs=opus",
    "audio/amr",
  ],
  voice: ["audio/ogg; codecs=opus"],
};

/** Other names clients use for the same formats. */
const ALIASES: Record<string, string> = {
  "image/jpg": "image/jpeg",
  "image/pjpeg": "image/jpeg",
  "audio/mp3": "audio/mpeg",
  "audio/x-m4a": "audio/mp4",
  "audio/m4a": "audio/mp4",
  "audio/aacp": "audio/aac",
  "audio/x-aac": "audio/aac",
  "audio/opus": "audio/ogg",
  "application/x-pdf": "application/pdf",
  "application/x-zip-compressed": "application/zip",
  "video/3gp": "video/3gpp",
};

/** Types whose content is recognised: declaring one of these for other content is a lie. */
const RECOGNISED = new Set([
  "image/jpeg",
  "image/png",
  "image/gif",
  "image/webp",
  "audio/wav",
  "video/mp4",
  "video/quicktime",
  "video/3gpp",
  "audio/mp4",
  "video/webm",
  "audio/ogg",
  "audio/mpeg",
  "audio/amr",
  "audio/aac",
  "application/pdf",
]);

/** `type/subtype`, lower case, aliases resolved, parameters dropped. */
function essence(mimetype: string): string {
  const bare = mimetype.split(";")[0].trim().toLowerCase();
  return ALIASES[bare] ?? bare;
}

/** Whether a declared essence names the sniffed format (an MP4 container is audio or video). */
function sameFormat(declared: string, sniffed: string): boolean {
  const a = declared === "audio/mp4" ? "video/mp4" : declared;
  const b = sniffed === "audio/mp4" ? "video/mp4" : sniffed;
  return a === b;
}

/** What a file to send turned out to be: the mimetype to send it with, and its pixel size. */
export type CheckedMedia = SniffedContent;

/**
 * Checks a file's first bytes against the kind it is sent as and the mimetype declared for it
 * (if any); returns the mimetype to send. Throws `UnsupportedMediaError` (415) otherwise.
 *
 * @example
 * ```ts
 * checkMediaType("image", jpegBytes, "image/jpeg"); // { mimetype: "image/jpeg", width, height }
 * checkMediaType("image", pdfBytes); // throws UnsupportedMediaError
 * ```
 */
export function checkMediaType(
  kind: MediaKind,
  head: Uint8Array,
  declared?: string,
): CheckedMedia {
  const sniffed = sniffContent(head);
  const declaredEssence = declared ? essence(declared) : undefined;
  const contradicted = declaredEssence !== undefined &&
    (!sniffed || !sameFormat(declaredEssence, essence(sniffed.mimetype)));
  if (kind === "document") {
    // Any type goes (a .docx is a ZIP), but not a recognisable one the content is not.
    if (contradicted && RECOGNISED.has(declaredEssence)) {
      throw contradiction(declaredEssence, sniffed);
    }
    return { mimetype: declared ?? sniffed?.mimetype ?? "application/octet-stream" };
  }
  const accepted = ACCEPTED[kind];
  if (!sniffed) {
    throw new UnsupportedMediaError(
      `A ${kind} must be one of ${accepted.join(", ")}; the content is none of these`,
    );
  }
  if (contradicted) throw contradiction(declaredEssence, sniffed);
  // An MP4 container sent as audio is audio/mp4.
  const mimetype = kind === "audio" && sniffed.mimetype === "video/mp4"
    ? "audio/mp4"
    : sniffed.mimetype;
  if (!accepted.includes(mimetype)) {
    throw new UnsupportedMediaError(
      `A ${kind} must be one of ${accepted.join(", ")}; the content is ${mimetype}`,
    );
  }
  return { ...sniffed, mimetype };
}

function contradiction(declared: string, sniffed: SniffedContent | null): UnsupportedMediaError {
  const content = sniffed ? essence(sniffed.mimetype) : "not recognised";
  return new UnsupportedMediaError(
    `The declared mimetype ${declared} does not match the content (${content})`,
  );
}
