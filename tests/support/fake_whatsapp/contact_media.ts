/**
 * Media in the simulated phones' messages: a contact opens what a companion sent (downloads the
 * file from the media server, checks both hashes and the MAC, decrypts), and builds the media
 * messages it sends (encrypts and stores the file first).
 */
import { type MediaType, proto } from "@whiskeysockets/baileys";
import { createHash } from "node:crypto";
import { decryptFile, encryptFile } from "./media_crypto.ts";
import type { FakeMediaServer } from "./media_server.ts";

export const MEDIA_KINDS = ["image", "video", "audio", "voice", "document", "sticker"] as const;
export type MediaKind = (typeof MEDIA_KINDS)[number];

const FIELD = {
  image: "imageMessage",
  video: "videoMessage",
  audio: "audioMessage",
  voice: "audioMessage",
  document: "documentMessage",
  sticker: "stickerMessage",
} as const;

/** The HKDF info each kind's keys come from (`MEDIA_HKDF_KEY_MAPPING`). */
const KEY_TYPE: Record<MediaKind, MediaType> = {
  image: "image",
  video: "video",
  audio: "audio",
  voice: "audio",
  document: "document",
  sticker: "sticker",
};

/** A file a contact received, as it decrypted it. */
export interface ReceivedMedia {
  kind: MediaKind;
  mimetype: string;
  bytes: Uint8Array;
  /** Hex SHA-256 of `bytes`. */
  sha256: string;
  caption?: string;
  fileName?: string;
  seconds?: number;
  width?: number;
  height?: number;
}

/** A file a contact sends. */
export interface MediaToSend {
  kind: MediaKind;
  bytes: Uint8Array;
  mimetype: string;
  caption?: string;
  fileName?: string;
  seconds?: number;
  width?: number;
  height?: number;
}

type MediaFields = proto.Message.IImageMessage & proto.Message.IDocumentMessage & {
  ptt?: boolean | null;
  seconds?: number | null;
};

const hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** The kind of media a message carries, with its fields; `undefined` for other messages. */
export function mediaOf(
  message: proto.IMessage,
): { kind: MediaKind; fields: MediaFields } | undefined {
  for (const kind of MEDIA_KINDS) {
    const fields = message[FIELD[kind]] as MediaFields | null | undefined;
    if (!fields) continue;
    if (kind === "audio" && fields.ptt) return { kind: "voice", fields };
    return { kind, fields };
  }
  return undefined;
}

/**
 * Downloads, checks and decrypts the file a media message points at, as the recipient's phone
 * does; throws when the file is missing or a check fails.
 */
export async function openMedia(
  kind: MediaKind,
  fields: MediaFields,
  media: FakeMediaServer,
): Promise<ReceivedMedia> {
  const { mediaKey, fileEncSha256, fileSha256, directPath } = fields;
  if (!mediaKey || !fileEncSha256 || !fileSha256 || !directPath) {
    throw new Error("media message without mediaKey, hashes or directPath");
  }
  const encrypted = media.get(directPath);
  if (!encrypted) throw new Error(`nothing uploaded at ${directPath}`);
  const bytes = await decryptFile(
    encrypted,
    { mediaKey, fileEncSha256, fileSha256 },
    KEY_TYPE[kind],
  );
  if (Number(fields.fileLength) !== bytes.length) throw new Error("fileLength mismatch");
  return {
    kind,
    mimetype: fields.mimetype ?? "",
    bytes,
    sha256: hex(bytes),
    ...(fields.caption ? { caption: fields.caption } : {}),
    ...(fields.fileName ? { fileName: fields.fileName } : {}),
    ...(fields.seconds ? { seconds: fields.seconds } : {}),
    ...(fields.width ? { width: fields.width } : {}),
    ...(fields.height ? { height: fields.height } : {}),
  };
}

/** Encrypts and stores `file`, and returns the message that points at it. */
export async function mediaMessage(
  file: MediaToSend,
  media: FakeMediaServer,
): Promise<proto.IMessage> {
  const encrypted = await encryptFile(file.bytes, KEY_TYPE[file.kind]);
  const { url, directPath } = media.put(encrypted.encrypted);
  const fields = {
    url,
    directPath,
    mediaKey: encrypted.mediaKey,
    fileEncSha256: encrypted.fileEncSha256,
    fileSha256: encrypted.fileSha256,
    fileLength: encrypted.fileLength,
    mediaKeyTimestamp: Math.floor(Date.now() / 1000),
    mimetype: file.mimetype,
    ...(file.caption !== undefined ? { caption: file.caption } : {}),
    ...(file.fileName !== undefined ? { fileName: file.fileName } : {}),
    ...(file.seconds !== undefined ? { seconds: file.seconds } : {}),
    ...(file.width !== undefined ? { width: file.width } : {}),
    ...(file.height !== undefined ? { height: file.height } : {}),
    ...(file.kind === "voice" ? { ptt: true } : {}),
  };
  return proto.Message.fromObject({ [FIELD[file.kind]]: fields });
}
