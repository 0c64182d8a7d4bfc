/**
 * Media messages between the gateway's shapes and Baileys' protobufs: the content of a file the
 * gateway uploaded, and what a received media message says about its file.
 */
import { normalizeMessageContent, proto, type WAMessage } from "@whiskeysockets/baileys";
import type { MediaReference } from "../media/media_downloads.ts";
import type { IncomingMedia, MediaKind } from "../domain/media.ts";
import type { OutgoingMediaMessage } from "../domain/message.ts";
import type { UploadedMedia } from "./media_upload.ts";

/** The `proto.Message` field of each kind (voice notes are audio with `ptt`). */
export const MEDIA_FIELD = {
  image: "imageMessage",
  video: "videoMessage",
  audio: "audioMessage",
  voice: "audioMessage",
  document: "documentMessage",
  sticker: "stickerMessage",
} as const satisfies Record<MediaKind, keyof proto.IMessage>;

/**
 * The message content of an uploaded file, with its caption, file name, size and mentions.
 *
 * @example
 * ```ts
 * const content = mediaContent(message, await uploadStagedMedia(socket, message.type, message.media, ms));
 * ```
 */
export function mediaContent(
  message: OutgoingMediaMessage,
  uploaded: UploadedMedia,
): proto.IMessage {
  const { media } = message;
  const fields = {
    url: uploaded.url,
    directPath: uploaded.directPath,
    mediaKey: uploaded.mediaKey,
    fileEncSha256: uploaded.fileEncSha256,
    fileSha256: uploaded.fileSha256,
    fileLength: uploaded.fileLength,
    mediaKeyTimestamp: uploaded.mediaKeyTimestamp,
    mimetype: media.mimetype,
    ...(media.width && media.height ? { width: media.width, height: media.height } : {}),
    // The schema allows captions only on images, videos and documents.
    ...(message.caption ? { caption: message.caption } : {}),
    ...(message.type === "document" ? { fileName: message.fileName ?? "file" } : {}),
    ...(message.type === "voice" ? { ptt: true } : {}),
    ...(message.mentions?.length ? { contextInfo: { mentionedJid: message.mentions } } : {}),
  };
  return { [MEDIA_FIELD[message.type]]: fields };
}

type MediaFields = proto.Message.IImageMessage & {
  fileName?: string | null;
  seconds?: number | null;
  ptt?: boolean | null;
  caption?: string | null;
};

/** A received message's media: its kind, what it says about the file, and its caption. */
export interface ReceivedMedia {
  kind: MediaKind;
  media: IncomingMedia;
  caption?: string;
  quotedMessageId?: string;
}

/**
 * What a received message says about its file; `undefined` when it carries none.
 *
 * @example
 * ```ts
 * receivedMedia(message.message)?.media.mimetype; // "image/jpeg"
 * ```
 */
export function receivedMedia(content: WAMessage["message"]): ReceivedMedia | undefined {
  if (!content) return undefined;
  for (const kind of ["image", "video", "audio", "document", "sticker"] as const) {
    const fields = content[MEDIA_FIELD[kind]] as MediaFields | null | undefined;
    if (!fields) continue;
    const duration = kind === "audio" || kind === "video" ? fields.seconds : undefined;
    const sized = kind === "image" || kind === "video" || kind === "sticker";
    const media: IncomingMedia = {
      mimetype: fields.mimetype ?? "application/octet-stream",
      size: Number(fields.fileLength ?? 0),
      sha256: fields.fileSha256 ? hex(fields.fileSha256) : "",
      ...(fields.fileName ? { fileName: fields.fileName } : {}),
      ...(duration ? { duration } : {}),
      ...(sized && fields.width && fields.height
        ? { width: fields.width, height: fields.height }
        : {}),
    };
    const quoted = fields.contextInfo?.stanzaId;
    return {
      kind: kind === "audio" && fields.ptt ? "voice" : kind,
      media,
      ...(fields.caption ? { caption: fields.caption } : {}),
      ...(quoted ? { quotedMessageId: quoted } : {}),
    };
  }
  return undefined;
}

/**
 * Where a stored message's file is and how to open it (decoded from the message's
 * `proto.Message` bytes); `undefined` when it is not a media message or lacks what a download
 * needs.
 *
 * @example
 * ```ts
 * const ref = mediaReferenceOf(stored.content); // { kind: "image", directPath, mediaKey, … }
 * ```
 */
export function mediaReferenceOf(encoded: Uint8Array): MediaReference | undefined {
  let content: proto.IMessage | undefined;
  try {
    content = normalizeMessageContent(proto.Message.decode(encoded));
  } catch {
    return undefined;
  }
  const received = receivedMedia(content);
  if (!received) return undefined;
  const fields = content![MEDIA_FIELD[received.kind]] as MediaFields;
  const { mediaKey, directPath, fileEncSha256, fileSha256 } = fields;
  if (!mediaKey?.length || !directPath || !fileEncSha256?.length || !fileSha256?.length) {
    return undefined;
  }
  return {
    kind: received.kind,
    mediaKey,
    directPath,
    fileEncSha256,
    fileSha256,
    fileLength: received.media.size,
    mimetype: received.media.mimetype,
    ...(received.media.fileName ? { fileName: received.media.fileName } : {}),
  };
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
