/**
 * Sending a staged file to WhatsApp's media servers: it is re-encrypted, chunk by chunk, from
 * the staging key to a fresh media key (`upload.enc` beside the staged file), then uploaded by
 * Baileys (`waUploadToServer`, which streams the file and picks the host `media_conn` named).
 * Runs wherever the connection runs (a worker, usually): only the staged file's path and keys
 * cross threads, never its bytes.
 */
import { createDecipheriv } from "node:crypto";
import { join } from "node:path";
import type { MediaType } from "@whiskeysockets/baileys";
import { WhatsAppRequestError } from "../domain/errors.ts";
import type { MediaKind, StagedMedia } from "../domain/media.ts";
import { streamedChunk } from "../media/chunk_garbage.ts";
import { writeAll } from "../media/media_staging.ts";
import { type EncryptedFileDigest, MediaEncryptor } from "../media/whatsapp_media_crypto.ts";
import {
  type MediaConnSource,
  type MediaHostFile,
  uploadToMediaHost,
} from "./media_host_upload.ts";
import { errorMessage } from "../lib/error_message.ts";

/** Where Baileys uploads each kind (`MEDIA_PATH_MAP`: stickers go with images). */
const UPLOAD_TYPE: Record<MediaKind, MediaType> = {
  image: "image",
  sticker: "sticker",
  video: "video",
  audio: "audio",
  voice: "audio",
  document: "document",
};

const CHUNK_BYTES = 256 * 1024;

/** An uploaded file: what a media message needs to point at it. */
export interface UploadedMedia extends EncryptedFileDigest {
  mediaKey: Uint8Array;
  url: string;
  directPath: string;
  /** Unix seconds. */
  mediaKeyTimestamp: number;
}

/** What of the socket an upload uses. */
export type MediaUploader = MediaConnSource;

/**
 * Encrypts a staged file for WhatsApp and uploads it; the encrypted copy is removed after.
 * Throws `WhatsAppRequestError` when the upload fails.
 */
export async function uploadStagedMedia(
  uploader: MediaUploader,
  kind: MediaKind,
  staged: StagedMedia,
  timeoutMs: number,
): Promise<UploadedMedia> {
  const mediaKey = crypto.getRandomValues(new Uint8Array(32));
  const encPath = join(staged.dir, "upload.enc");
  try {
    const digest = await encryptStaged(staged, mediaKey, kind, encPath);
    let uploaded: MediaHostFile;
    try {
      uploaded = await uploadToMediaHost(
        uploader,
        encPath,
        digest.fileEncSha256,
        UPLOAD_TYPE[kind],
        timeoutMs,
      );
    } catch (error) {
      throw new WhatsAppRequestError(
        `WhatsApp did not take the media upload: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    return {
      ...digest,
      mediaKey,
      url: uploaded.mediaUrl,
      directPath: uploaded.directPath,
      mediaKeyTimestamp: Math.floor(Date.now() / 1000),
    };
  } finally {
    await Deno.remove(encPath).catch(() => {});
  }
}

/** Staging key → media key, one chunk at a time; checks the plaintext is what was staged. */
async function encryptStaged(
  staged: StagedMedia,
  mediaKey: Uint8Array,
  kind: MediaKind,
  encPath: string,
): Promise<EncryptedFileDigest> {
  const decipher = createDecipheriv("aes-256-ctr", staged.key, staged.iv);
  const encryptor = new MediaEncryptor(mediaKey, kind);
  {
    using source = await Deno.open(staged.path, { read: true });
    using target = await Deno.open(encPath, { createNew: true, write: true, mode: 0o600 });
    const buffer = new Uint8Array(CHUNK_BYTES);
    for (let read = await source.read(buffer); read !== null; read = await source.read(buffer)) {
      await writeAll(target, encryptor.update(decipher.update(buffer.subarray(0, read))));
      streamedChunk(read);
    }
    await writeAll(target, encryptor.update(decipher.final()));
    await writeAll(target, encryptor.final());
  }
  const digest = encryptor.digest;
  const same = digest.fileLength === staged.size &&
    digest.fileSha256.every((byte, i) => byte === staged.sha256[i]);
  if (!same) throw new Error("the staged media file changed before it was sent");
  return digest;
}
