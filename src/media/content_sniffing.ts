/**
 * What a file is, from its first bytes: the formats WhatsApp media come in (and PDF, ZIP for
 * documents), with the pixel size of images when their header tells it. Nothing here trusts a
 * name or a declared type.
 */

/** A recognised format: its canonical mimetype, and the size of an image. */
export interface SniffedContent {
  mimetype: string;
  width?: number;
  height?: number;
}

const ascii = (bytes: Uint8Array, at: number, text: string) =>
  bytes.length >= at + text.length &&
  [...text].every((char, i) => bytes[at + i] === char.charCodeAt(0));

const u16be = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];
const u16le = (b: Uint8Array, at: number) => b[at] | (b[at + 1] << 8);
const u24le = (b: Uint8Array, at: number) => b[at] | (b[at + 1] << 8) | (b[at + 2] << 16);
const u32be = (b: Uint8Array, at: number) => ((b[at] << 24) >>> 0) + u24be(b, at + 1);
const u24be = (b: Uint8Array, at: number) => (b[at] << 16) | (b[at + 1] << 8) | b[at + 2];

/**
 * The format of a file whose first bytes are `head`; `null` when it is none of those known.
 *
 * @example
 * ```ts
 * sniffContent(new Uint8Array([0x25, 0x50, 0x44, 0x46, 0x2d])); // { mimetype: "application/pdf" }
 * ```
 */
export function sniffContent(head: Uint8Array): SniffedContent | null {
  const b = head;
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) {
    return { mimetype: "image/jpeg", ...jpegSize(b) };
  }
  if (ascii(b, 0, "\x89PNG\r\n\x1a\n")) {
    const size = ascii(b, 12, "IHDR") && b.length >= 24
      ? { width: u32be(b, 16), height: u32be(b, 20) }
      : {};
    return { mimetype: "image/png", ...size };
  }
  if (ascii(b, 0, "GIF87a") || ascii(b, 0, "GIF89a")) {
    return {
      mimetype: "image/gif",
      ...(b.length >= 10 ? { width: u16le(b, 6), height: u16le(b, 8) } : {}),
    };
  }
  if (ascii(b, 0, "RIFF") && ascii(b, 8, "WEBP")) return { mimetype: "image/webp", ...webpSize(b) };
  if (ascii(b, 0, "RIFF") && ascii(b, 8, "WAVE")) return { mimetype: "audio/wav" };
  if (ascii(b, 4, "ftyp")) return { mimetype: isoBrandType(b) };
  if (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) {
    return { mimetype: "video/webm" };
  }
  if (ascii(b, 0, "OggS")) {
    return { mimetype: ascii(b, 28, "OpusHead") ? "audio/ogg; codecs=opus" : "audio/ogg" };
  }
  if (ascii(b, 0, "ID3")) return { mimetype: "audio/mpeg" };
  if (ascii(b, 0, "#!AMR")) return { mimetype: "audio/amr" };
  if (b[0] === 0xff && (b[1] & 0xf6) === 0xf0) return { mimetype: "audio/aac" }; // ADTS
  if (b[0] === 0xff && (b[1] & 0xe0) === 0xe0 && (b[1] & 0x06) !== 0) {
    return { mimetype: "audio/mpeg" };
  }
  if (ascii(b, 0, "%PDF-")) return { mimetype: "application/pdf" };
  if (ascii(b, 0, "PK\x03\x04")) return { mimetype: "application/zip" };
  return null;
}

/** An ISO base media file (MP4 family), by its major brand. */
function isoBrandType(b: Uint8Array): string {
  if (ascii(b, 8, "qt  ")) return "video/quicktime";
  if (ascii(b, 8, "3gp") || ascii(b, 8, "3g2")) return "video/3gpp";
  if (ascii(b, 8, "M4A ") || ascii(b, 8, "M4B ")) return "audio/mp4";
  return "video/mp4";
}

/** A JPEG's size, from its first start-of-frame segment. */
function jpegSize(b: Uint8Array): { width?: number; height?: number } {
  let at = 2;
  while (at + 9 < b.length) {
    if (b[at] !== 0xff) return {};
    const marker = b[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    const isStartOfFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 &&
      marker !== 0xc8 && marker !== 0xcc;
    if (isStartOfFrame) return { height: u16be(b, at + 5), width: u16be(b, at + 7) };
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      at += 2;
      continue;
    }
    at += 2 + u16be(b, at + 2);
  }
  return {};
}

/** A WebP's size, from its first chunk (lossy, lossless or extended). */
function webpSize(b: Uint8Array): { width?: number; height?: number } {
  if (ascii(b, 12, "VP8X") && b.length >= 30) {
    return { width: 1 + u24le(b, 24), height: 1 + u24le(b, 27) };
  }
  if (ascii(b, 12, "VP8L") && b.length >= 25) {
    const bits = b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24);
    return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff) };
  }
  if (ascii(b, 12, "VP8 ") && b.length >= 30) {
    return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
  }
  return {};
}
