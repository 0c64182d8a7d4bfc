/**
 * Contacts, presence and the account's own profile as the gateway sees them, independent of
 * Baileys.
 */

/** What WhatsApp tells about a user. */
export interface ContactProfile {
  jid: string;
  /** A URL of their profile picture (it expires); `null` when they have none or hide it. */
  pictureUrl: string | null;
  /** Their about text; `null` when they have none or hide it. */
  about: string | null;
  /** ISO timestamp of when they set it, when known. */
  aboutSetAt: string | null;
  /** Their business profile; `null` for a personal account. */
  business: BusinessProfile | null;
}

/** A business account's public profile. */
export interface BusinessProfile {
  description: string | null;
  category: string | null;
  email: string | null;
  website: string | null;
  address: string | null;
}

/** What a presence update says: online, offline, typing, recording a voice note, stopped. */
export const PRESENCES = ["available", "unavailable", "composing", "recording", "paused"] as const;
export type Presence = (typeof PRESENCES)[number];

/** The account's own profile. */
export interface OwnProfile {
  jid: string;
  phoneNumber: string;
  /** The name others see (push name); `null` until WhatsApp told it. */
  name: string | null;
  about: string | null;
  pictureUrl: string | null;
}

/** JPEG files start with the SOI marker and a segment marker. */
const JPEG_MAGIC = [0xff, 0xd8, 0xff];

/**
 * Whether `bytes` look like a JPEG file (WhatsApp takes profile pictures as JPEG only).
 *
 * @example
 * ```ts
 * isJpeg(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])); // true
 * ```
 */
export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length > JPEG_MAGIC.length && JPEG_MAGIC.every((byte, i) => bytes[i] === byte);
}
