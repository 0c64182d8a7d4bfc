/**
 * Media messages as the gateway sees them, independent of Baileys: the kinds it sends and
 * receives, a file staged for sending, and what a received file is said to be.
 */

/** The media kinds: `voice` is a push-to-talk note (ogg/opus), `sticker` a webp image. */
export const MEDIA_KINDS = ["image", "video", "audio", "voice", "document", "sticker"] as const;
export type MediaKind = (typeof MEDIA_KINDS)[number];

/** Whether a message type is one of the media kinds. */
export function isMediaKind(type: string): type is MediaKind {
  return (MEDIA_KINDS as readonly string[]).includes(type);
}

/**
 * A file received over the API and written to a temporary file under the data directory,
 * encrypted with a key that exists only in memory (so a file left by a crash is unreadable).
 * The caller that staged it removes it once the send is over.
 */
export interface StagedMedia {
  /** The temporary folder of this file (absolute, under the data directory). */
  dir: string;
  /** The staged file inside `dir`: the plaintext under AES-256-CTR with `key` and `iv`. */
  path: string;
  key: Uint8Array;
  iv: Uint8Array;
  /** Plaintext size in bytes. */
  size: number;
  /** SHA-256 of the plaintext. */
  sha256: Uint8Array;
  /** The content type, checked against the content. */
  mimetype: string;
  /** Pixel size, for images and stickers whose header tells it. */
  width?: number;
  height?: number;
}

/** What a received media message says about its file (nothing secret: no key, no path). */
export interface IncomingMedia {
  mimetype: string;
  /** Size in bytes. */
  size: number;
  /** Hex SHA-256 of the file. */
  sha256: string;
  fileName?: string;
  /** Seconds, for audio, voice notes and video. */
  duration?: number;
  /** Pixels, for images, stickers and video. */
  width?: number;
  height?: number;
}

/**
 * The API path a received message's file is downloaded from.
 *
 * @example
 * ```ts
 * mediaPath("shop-1", "3EB0C431"); // "/api/sessions/shop-1/messages/3EB0C431/media"
 * ```
 */
export function mediaPath(sessionId: string, messageId: string): string {
  return `/api/sessions/${sessionId}/messages/${encodeURIComponent(messageId)}/media`;
}
