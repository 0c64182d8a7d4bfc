/**
 * Files of each media type for tests: a real header of the format (what content sniffing reads:
 * magic bytes, image dimensions) followed by seeded random bytes up to the size asked for.
 */
import { seededRandom } from "./prng.ts";

export type FixtureKind = "image" | "video" | "audio" | "voice" | "document" | "sticker";

/** A test file and what the gateway should find in it. */
export interface MediaFixture {
  bytes: Uint8Array<ArrayBuffer>;
  mimetype: string;
  width?: number;
  height?: number;
}

const ascii = (text: string) => new TextEncoder().encode(text);

function u32be(value: number): number[] {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

function u24le(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff];
}

function png(width: number, height: number): number[] {
  // Signature, then an IHDR chunk (length, type, width, height, depth/colour/…; CRC not checked).
  return [
    0x89,
    0x50,
    0x4e,
    0x47,
    0x0d,
    0x0a,
    0x1a,
    0x0a,
    ...u32be(13),
    ...ascii("IHDR"),
    ...u32be(width),
    ...u32be(height),
    8,
    6,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ];
}

function jpeg(width: number, height: number): number[] {
  // SOI, an APP0 (JFIF) segment, then SOF0 with the dimensions.
  return [
    0xff,
    0xd8,
    0xff,
    0xe0,
    0x00,
    0x10,
    ...ascii("JFIF\0"),
    1,
    1,
    0,
    0,
    1,
    0,
    1,
    0,
    0,
    0xff,
    0xc0,
    0x00,
    0x11,
    8,
    height >> 8,
    height & 0xff,
    width >> 8,
    width & 0xff,
    3,
    1,
    0x22,
    0,
    2,
    0x11,
    1,
    3,
    0x11,
    1,
  ];
}

function webp(width: number, height: number): number[] {
  // RIFF/WEBP with a VP8X chunk: canvas width-1 and height-1 as 24-bit little-endian.
  return [
    ...ascii("RIFF"),
    0,
    0,
    0,
    0,
    ...ascii("WEBPVP8X"),
    10,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    ...u24le(width - 1),
    ...u24le(height - 1),
  ];
}

function mp4(): number[] {
  return [
    ...u32be(24),
    ...ascii("ftypisom"),
    0,
    0,
    2,
    0,
    ...ascii("isomiso2"),
    ...u32be(8),
    ...ascii("mdat"),
  ];
}

function oggOpus(): number[] {
  // One Ogg page (header type 2: first page) whose packet is an OpusHead.
  const page = [...ascii("OggS"), 0, 2, ...new Array(8).fill(0), 1, 0, 0, 0, 0, 0, 0, 0];
  page.push(0, 0, 0, 0, 1, 19); // CRC (not checked), one segment of 19 bytes
  return [...page, ...ascii("OpusHead"), 1, 1, 0x38, 1, 0x80, 0xbb, 0, 0, 0, 0, 0];
}

function mp3(): number[] {
  return [...ascii("ID3"), 4, 0, 0, 0, 0, 0, 0];
}

function pdf(): number[] {
  return [...ascii("%PDF-1.7\n")];
}

const HEADERS: Record<
  FixtureKind,
  () => { header: number[]; mimetype: string; width?: number; height?: number }
> = {
  image: () => ({ header: jpeg(640, 480), mimetype: "image/jpeg", width: 640, height: 480 }),
  video: () => ({ header: mp4(), mimetype: "video/mp4" }),
  audio: () => ({ header: mp3(), mimetype: "audio/mpeg" }),
  voice: () => ({ header: oggOpus(), mimetype: "audio/ogg; codecs=opus" }),
  document: () => ({ header: pdf(), mimetype: "application/pdf" }),
  sticker: () => ({ header: webp(512, 512), mimetype: "image/webp", width: 512, height: 512 }),
};

/**
 * A file of `kind` of exactly `size` bytes (at least its header), the same for the same seed.
 *
 * @example
 * ```ts
 * const { bytes, mimetype } = mediaFixture("image", 10_000, 1);
 * ```
 */
export function mediaFixture(kind: FixtureKind, size: number, seed = 1): MediaFixture {
  const { header, ...about } = HEADERS[kind]();
  const bytes = new Uint8Array(Math.max(size, header.length));
  bytes.set(header);
  const random = seededRandom(seed);
  for (let i = header.length; i < bytes.length; i += 4) {
    const word = Math.floor(random.next() * 2 ** 32);
    for (let j = 0; j < 4 && i + j < bytes.length; j++) bytes[i + j] = (word >>> (8 * j)) & 0xff;
  }
  return { bytes, ...about };
}

/** A PNG of `width` × `height` (header only, then filler): an image that is not a JPEG. */
export function pngFixture(width: number, height: number, size = 2_000): MediaFixture {
  const header = png(width, height);
  const bytes = new Uint8Array(Math.max(size, header.length));
  bytes.set(header);
  return { bytes, mimetype: "image/png", width, height };
}
