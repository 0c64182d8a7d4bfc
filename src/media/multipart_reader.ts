/**
 * A streaming `multipart/form-data` reader (RFC 7578): parts come one at a time, each body as a
 * stream of chunks, so a file part is never whole in memory (unlike `Request.formData()`). A body
 * that ends before its closing delimiter, a missing boundary or a malformed part header is a
 * `ValidationError` (400).
 */
import { Buffer } from "node:buffer";
import { ValidationError } from "../domain/errors.ts";

/** One part: its form field name, file name and type, and its body (read it before `next()`). */
export interface MultipartPart {
  name: string;
  filename?: string;
  contentType?: string;
  body: AsyncIterable<Uint8Array>;
}

const MAX_HEADER_BYTES = 16 * 1024;
const MAX_PARTS = 64;
const CRLF = Buffer.from("\r\n");
const HEADER_END = Buffer.from("\r\n\r\n");

/**
 * The boundary of a `multipart/form-data` content type; throws `ValidationError` without one.
 *
 * @example
 * ```ts
 * multipartBoundary('multipart/form-data; boundary="abc"'); // "abc"
 * ```
 */
export function multipartBoundary(contentType: string): string {
  const match = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary) throw malformed("the multipart content type has no boundary");
  return boundary;
}

/**
 * Reads the parts of a multipart body in order.
 *
 * @example
 * ```ts
 * const reader = new MultipartReader(request.body!, multipartBoundary(type));
 * for (let part = await reader.next(); part; part = await reader.next()) { ... }
 * ```
 */
export class MultipartReader {
  readonly #source: AsyncIterator<Uint8Array>;
  /** `\r\n--boundary`: the body is read as if it started with a CRLF, so every delimiter has one. */
  readonly #delimiter: Buffer;
  #buffer: Buffer = Buffer.from(CRLF);
  #ended = false;
  #finished = false;
  #parts = 0;
  #current?: AsyncIterator<Uint8Array>;

  constructor(body: AsyncIterable<Uint8Array>, boundary: string) {
    this.#source = body[Symbol.asyncIterator]();
    this.#delimiter = Buffer.from(`\r\n--${boundary}`);
  }

  /** The next part, or `null` after the closing delimiter. */
  async next(): Promise<MultipartPart | null> {
    if (this.#current) {
      // The caller did not read the whole body: skip the rest.
      while (!(await this.#current.next()).done);
      this.#current = undefined;
    } else if (this.#parts === 0) {
      await this.#skipPreamble();
    }
    if (this.#finished) return null;
    if (++this.#parts > MAX_PARTS) throw malformed(`more than ${MAX_PARTS} parts`);
    const headers = parseHeaders(await this.#readHeaders());
    const body = this.#readBody();
    this.#current = body;
    return { ...headers, body: { [Symbol.asyncIterator]: () => body } };
  }

  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const { value, done } = await this.#source.next();
    if (done) {
      this.#ended = true;
      return false;
    }
    this.#buffer = Buffer.concat([this.#buffer, value]);
    return true;
  }

  async #skipPreamble(): Promise<void> {
    for (;;) {
      const at = this.#buffer.indexOf(this.#delimiter);
      if (at >= 0) {
        this.#buffer = this.#buffer.subarray(at + this.#delimiter.length);
        return await this.#afterDelimiter();
      }
      // Keep what could be the start of the delimiter.
      this.#buffer = this.#buffer.subarray(
        Math.max(0, this.#buffer.length - this.#delimiter.length),
      );
      if (!(await this.#fill())) throw malformed("no boundary found in the body");
    }
  }

  /** After a delimiter: `--` closes the body, else optional whitespace and a CRLF start a part. */
  async #afterDelimiter(): Promise<void> {
    while (this.#buffer.length < 2) if (!(await this.#fill())) throw truncated();
    if (this.#buffer[0] === 0x2d && this.#buffer[1] === 0x2d) {
      this.#finished = true;
      return;
    }
    for (;;) {
      const crlf = this.#buffer.indexOf(CRLF);
      if (crlf >= 0) {
        if (!/^[ \t]*$/.test(this.#buffer.subarray(0, crlf).toString("latin1"))) {
          throw malformed("unexpected bytes after a boundary");
        }
        this.#buffer = this.#buffer.subarray(crlf + 2);
        return;
      }
      if (this.#buffer.length > 256) throw malformed("unexpected bytes after a boundary");
      if (!(await this.#fill())) throw truncated();
    }
  }

  async #readHeaders(): Promise<string> {
    for (;;) {
      // A part without headers starts right with the blank line.
      if (this.#buffer.subarray(0, 2).equals(CRLF)) {
        this.#buffer = this.#buffer.subarray(2);
        return "";
      }
      const end = this.#buffer.indexOf(HEADER_END);
      if (end >= 0) {
        const text = this.#buffer.subarray(0, end).toString("utf8");
        this.#buffer = this.#buffer.subarray(end + HEADER_END.length);
        return text;
      }
      if (this.#buffer.length > MAX_HEADER_BYTES) throw malformed("a part's headers are too long");
      if (!(await this.#fill())) throw truncated();
    }
  }

  async *#readBody(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const at = this.#buffer.indexOf(this.#delimiter);
      if (at >= 0) {
        if (at > 0) yield new Uint8Array(this.#buffer.subarray(0, at));
        this.#buffer = this.#buffer.subarray(at + this.#delimiter.length);
        await this.#afterDelimiter();
        return;
      }
      const safe = this.#buffer.length - (this.#delimiter.length - 1);
      if (safe > 0) {
        yield new Uint8Array(this.#buffer.subarray(0, safe));
        this.#buffer = this.#buffer.subarray(safe);
      }
      if (!(await this.#fill())) throw truncated();
    }
  }
}

function parseHeaders(text: string): Omit<MultipartPart, "body"> {
  let disposition: string | undefined;
  let contentType: string | undefined;
  for (const line of text.split("\r\n")) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw malformed("a part header has no name");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-disposition") disposition = value;
    if (name === "content-type") contentType = value;
  }
  if (!disposition || !/^form-data\b/i.test(disposition)) {
    throw malformed("a part has no Content-Disposition: form-data");
  }
  const name = parameter(disposition, "name");
  if (name === undefined) throw malformed("a part has no field name");
  const filename = parameter(disposition, "filename");
  return {
    name,
    ...(filename !== undefined ? { filename } : {}),
    ...(contentType ? { contentType } : {}),
  };
}

/** A `name="value"` (or bare `name=value`) parameter of a header value. */
function parameter(header: string, key: string): string | undefined {
  const pattern = new RegExp(`;\\s*${key}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, "i");
  const match = pattern.exec(header);
  if (!match) return undefined;
  return match[1] !== undefined ? match[1].replace(/\\(.)/g, "$1") : match[2];
}

function malformed(why: string): ValidationError {
  return new ValidationError(`Malformed multipart body: ${why}`);
}

function truncated(): ValidationError {
  return malformed("it ended before its closing boundary (truncated?)");
}
