/**
 * Just enough of the POSIX tar format (ustar, with pax `path` records for long names) to write
 * and read the gateway's backups in pure Deno: regular files and directories, nothing else.
 * Archives it writes are read by GNU and BSD tar (`tar -tvf backup.tar`).
 */

const BLOCK = 512;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** One entry of an archive. */
export interface TarEntry {
  /** Relative path, `/`-separated, without a trailing slash. */
  path: string;
  type: "file" | "directory";
  /** Permission bits (e.g. 0o600). */
  mode: number;
  /** Modification time, in seconds since the epoch. */
  mtime: number;
}

/** The archive is not a tar this reader understands, or it is damaged. */
export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TarFormatError";
  }
}

/** Writes a tar archive to a stream of bytes, one entry at a time. */
export class TarWriter {
  readonly #write: (bytes: Uint8Array) => Promise<void>;

  /** `write` receives the archive's bytes in order and must write them whole. */
  constructor(write: (bytes: Uint8Array) => Promise<void>) {
    this.#write = write;
  }

  /** Adds a directory entry. */
  async directory(path: string, mode = 0o700, mtime = 0): Promise<void> {
    await this.#header({ path, type: "directory", mode, mtime }, 0);
  }

  /** Adds a regular file with its content. */
  async file(path: string, data: Uint8Array, mode = 0o600, mtime = 0): Promise<void> {
    await this.#header({ path, type: "file", mode, mtime }, data.length);
    await this.#write(data);
    await this.#write(new Uint8Array(padding(data.length)));
  }

  /** Writes the end-of-archive marker (two zero blocks). */
  async finish(): Promise<void> {
    await this.#write(new Uint8Array(BLOCK * 2));
  }

  async #header(entry: TarEntry, size: number): Promise<void> {
    const name = entry.type === "directory" ? `${entry.path}/` : entry.path;
    checkPath(entry.path);
    const nameBytes = encoder.encode(name);
    if (nameBytes.length > 100) {
      // A pax extended header carries the full path; the ustar name field gets a stand-in.
      const record = paxRecord("path", name);
      await this.#write(header("PaxHeader", "x", 0o600, record.length, entry.mtime));
      await this.#write(record);
      await this.#write(new Uint8Array(padding(record.length)));
    }
    const type = entry.type === "directory" ? "5" : "0";
    await this.#write(header(truncateUtf8(name, 100), type, entry.mode, size, entry.mtime));
  }
}

/**
 * Reads a tar archive from `read` (which returns exactly `n` bytes, or fewer at the end), calling
 * `onEntry` for each file or directory with its content. Rejects symlinks, devices and anything
 * else, damaged headers (bad checksum) and archives cut short.
 *
 * @example
 * ```ts
 * await readTar(reader.read, async (entry, data) => console.log(entry.path, data.length));
 * ```
 */
export async function readTar(
  read: (n: number) => Promise<Uint8Array>,
  onEntry: (entry: TarEntry, data: Uint8Array) => Promise<void>,
): Promise<void> {
  let paxPath: string | undefined;
  while (true) {
    const block = await read(BLOCK);
    if (block.length === 0) throw new TarFormatError("archive ends without its end marker");
    if (block.length < BLOCK) throw new TarFormatError("archive is truncated");
    if (block.every((byte) => byte === 0)) return;
    verifyChecksum(block);
    const size = parseOctal(block.subarray(124, 136), "size");
    const type = String.fromCharCode(block[156] || 0x30);
    const data = await read(size);
    if (data.length < size) throw new TarFormatError("archive is truncated inside an entry");
    const pad = await read(padding(size));
    if (pad.length < padding(size)) throw new TarFormatError("archive is truncated");

    if (type === "x") {
      paxPath = parsePax(data).path ?? paxPath;
      continue;
    }
    const prefix = text(block.subarray(345, 500));
    const rawName = paxPath ?? (prefix ? `${prefix}/${text(block.subarray(0, 100))}` : text(
      block.subarray(0, 100),
    ));
    paxPath = undefined;
    if (type !== "0" && type !== "5") {
      throw new TarFormatError(`unsupported entry type '${type}' for ${rawName}`);
    }
    const path = rawName.replace(/\/+$/, "");
    checkPath(path);
    await onEntry({
      path,
      type: type === "5" ? "directory" : "file",
      mode: parseOctal(block.subarray(100, 108), "mode") & 0o777,
      mtime: parseOctal(block.subarray(136, 148), "mtime"),
    }, data);
  }
}

/**
 * Reads exactly `n` bytes at a time from a file (fewer only at its end), for {@linkcode readTar}.
 *
 * @example
 * ```ts
 * using file = await Deno.open("backup.tar");
 * await readTar(exactReader(file), onEntry);
 * ```
 */
export function exactReader(file: Deno.FsFile): (n: number) => Promise<Uint8Array> {
  return async (n) => {
    const buffer = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const count = await file.read(buffer.subarray(filled));
      if (count === null) break;
      filled += count;
    }
    return buffer.subarray(0, filled);
  };
}

/** Refuses absolute paths, `.`/`..` components and control characters: nothing may escape. */
function checkPath(path: string): void {
  // deno-lint-ignore no-control-regex
  const bad = path === "" || path.startsWith("/") || /[\u0000-\u001f\\]/.test(path) ||
    path.split("/").some((part) => part === "" || part === "." || part === "..");
  if (bad) throw new TarFormatError(`unsafe path in archive: ${JSON.stringify(path)}`);
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function header(name: string, type: string, mode: number, size: number, mtime: number) {
  const block = new Uint8Array(BLOCK);
  block.set(encoder.encode(name), 0);
  block.set(octal(mode, 8), 100);
  block.set(octal(0, 8), 108);
  block.set(octal(0, 8), 116);
  block.set(octal(size, 12), 124);
  block.set(octal(Math.max(0, Math.floor(mtime)), 12), 136);
  block[156] = type.charCodeAt(0);
  block.set(encoder.encode("ustar\u000000"), 257);
  // The checksum is computed with its own field as spaces.
  block.fill(0x20, 148, 156);
  const sum = block.reduce((total, byte) => total + byte, 0);
  block.set(encoder.encode(`${sum.toString(8).padStart(6, "0")}\u0000 `), 148);
  return block;
}

function octal(value: number, width: number): Uint8Array {
  const digits = value.toString(8);
  if (digits.length > width - 1) throw new RangeError(`${value} does not fit a tar header field`);
  return encoder.encode(`${digits.padStart(width - 1, "0")}\u0000`);
}

function paxRecord(key: string, value: string): Uint8Array {
  const body = ` ${key}=${value}\n`;
  const bodyLength = encoder.encode(body).length;
  // The record's length counts its own digits.
  let length = bodyLength + 1;
  while (String(length).length + bodyLength !== length) length = String(length).length + bodyLength;
  return encoder.encode(`${length}${body}`);
}

function parsePax(data: Uint8Array): Record<string, string> {
  const records: Record<string, string> = {};
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    const length = Number(text(data.subarray(offset, space)));
    if (space < 0 || !Number.isInteger(length) || length <= 0) {
      throw new TarFormatError("malformed pax header");
    }
    const record = decoder.decode(data.subarray(space + 1, offset + length - 1));
    const equals = record.indexOf("=");
    records[record.slice(0, equals)] = record.slice(equals + 1);
    offset += length;
  }
  return records;
}

function verifyChecksum(block: Uint8Array): void {
  const stored = parseOctal(block.subarray(148, 156), "checksum");
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  if (sum !== stored) throw new TarFormatError("damaged header (checksum mismatch)");
}

function parseOctal(field: Uint8Array, what: string): number {
  const value = text(field).trim();
  if (!/^[0-7]*$/.test(value)) throw new TarFormatError(`malformed ${what} field`);
  return value === "" ? 0 : parseInt(value, 8);
}

function text(field: Uint8Array): string {
  const end = field.indexOf(0);
  return decoder.decode(end === -1 ? field : field.subarray(0, end));
}

function truncateUtf8(value: string, maxBytes: number): string {
  let result = "";
  for (const char of value) {
    if (encoder.encode(result + char).length > maxBytes) break;
    result += char;
  }
  return result;
}
