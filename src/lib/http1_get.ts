/**
 * One HTTP/1.1 GET sent to an IP address the caller chose, for a URL whose host may be a name:
 * what lets a caller check an address and then connect to exactly that address (fetch resolves
 * names itself). TLS is verified against the URL's host. One request per connection
 * (`Connection: close`). The body streams in the chunks the socket gives, each a view of a buffer
 * nothing else uses, so a large body never sits in memory whole (node:http held tens of MiB of
 * one outside JavaScript).
 */

import { concatBytes, indexOfBytes } from "./bytes.ts";

export interface Http1GetOptions {
  /** Aborting closes the connection; a pending call or read then rejects. */
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /** Extra certificate authorities to trust (PEM); the default store (and `DENO_CERT`) apply too. */
  caCerts?: string[];
  /** Largest status line plus headers read (default 64 KiB). */
  maxHeadBytes?: number;
}

/** A response whose head has arrived; `close()` must be called unless the body was read to its end. */
export interface Http1Response {
  status: number;
  headers: Headers;
  /** The body, de-chunked; rejects with `Http1Error` if the connection ends early. */
  body: AsyncIterable<Uint8Array>;
  close(): void;
}

/** A response that breaks HTTP/1.1 framing, or a connection that ended mid-message. */
export class Http1Error extends Error {
  override name = "Http1Error";
}

const READ_BUFFER_BYTES = 64 * 1024;
/** Below this much room left, a read gets a fresh buffer (TLS records are up to 16 KiB). */
const MIN_READ_ROOM = 16 * 1024;
const MAX_CHUNK_LINE_BYTES = 4096;
const CRLF = new Uint8Array([13, 10]);
const HEAD_END = new Uint8Array([13, 10, 13, 10]);

/**
 * Sends `GET url` to `address` (an IP literal) on the URL's port.
 *
 * @example
 * ```ts
 * const response = await http1Get(new URL("https://cdn.example.com/a.jpg"), "93.184.216.34");
 * for await (const chunk of response.body) consume(chunk);
 * ```
 */
export async function http1Get(
  url: URL,
  address: string,
  options: Http1GetOptions = {},
): Promise<Http1Response> {
  const signal = options.signal;
  signal?.throwIfAborted();
  const https = url.protocol === "https:";
  const port = url.port ? Number(url.port) : https ? 443 : 80;
  const host = bare(url.hostname);
  let conn: Deno.Conn = await untilAborted(Deno.connect({ hostname: address, port }), signal);
  // Replaced by the TLS connection below; an abort closes whichever is current.
  const onAbort = () => closeQuietly(conn);
  signal?.addEventListener("abort", onAbort, { once: true });
  const close = () => {
    signal?.removeEventListener("abort", onAbort);
    closeQuietly(conn);
  };
  try {
    if (https) {
      conn = await Deno.startTls(conn as Deno.TcpConn, {
        hostname: host,
        ...(options.caCerts ? { caCerts: options.caCerts } : {}),
      });
      signal?.throwIfAborted();
    }
    await writeAll(conn, requestHead(url, options.headers ?? {}));
    const reader = new ConnReader(conn);
    const maxHead = options.maxHeadBytes ?? 64 * 1024;
    let head = await readHead(reader, maxHead);
    // Interim responses (100 Continue, 103 Early Hints) come before the real one.
    while (head.status >= 100 && head.status < 200) head = await readHead(reader, maxHead);
    return {
      status: head.status,
      headers: head.headers,
      body: readBody(reader, head, close),
      close,
    };
  } catch (error) {
    close();
    throw signal?.aborted ? signal.reason : error;
  }
}

function bare(hostname: string): string {
  return hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
}

function requestHead(url: URL, extra: Record<string, string>): Uint8Array {
  const target = `${url.pathname || "/"}${url.search}`;
  const lines = [
    `GET ${target} HTTP/1.1`,
    `Host: ${url.host}`,
    ...Object.entries({ ...extra, "accept-encoding": "identity", connection: "close" })
      .map(([name, value]) => {
        if (/[\r\n]/.test(name + value)) throw new Http1Error(`header ${name} has a line break`);
        return `${name}: ${value}`;
      }),
  ];
  return new TextEncoder().encode(`${lines.join("\r\n")}\r\n\r\n`);
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await conn.write(bytes.subarray(written));
  }
}

/** Reads from a connection, with bytes pushed back for the next read. */
class ConnReader {
  #conn: Deno.Conn;
  #buffer = new Uint8Array(0);
  #used = 0;
  #pending: Uint8Array | null = null;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /**
   * The next bytes, or `null` at the end of the stream. Each is a view no later read writes
   * over, so a caller may keep it.
   */
  async read(): Promise<Uint8Array | null> {
    if (this.#pending) {
      const pending = this.#pending;
      this.#pending = null;
      return pending;
    }
    if (this.#buffer.length - this.#used < MIN_READ_ROOM) {
      this.#buffer = new Uint8Array(READ_BUFFER_BYTES);
      this.#used = 0;
    }
    const n = await this.#conn.read(this.#buffer.subarray(this.#used));
    if (n === null) return null;
    const bytes = this.#buffer.subarray(this.#used, this.#used + n);
    this.#used += n;
    return bytes;
  }

  /** Puts back the unread part of what the last read returned. */
  unread(bytes: Uint8Array): void {
    if (bytes.length > 0) this.#pending = bytes;
  }
}

interface ResponseHead {
  status: number;
  headers: Headers;
}

async function readHead(reader: ConnReader, maxBytes: number): Promise<ResponseHead> {
  const head = await readUntil(reader, HEAD_END, maxBytes, {
    closed: "the connection closed before a response arrived",
    tooLong: `response head is over ${maxBytes} bytes`,
  });
  return parseHead(head);
}

/**
 * The text (latin1) before the next `delimiter`, which is consumed; what followed it in the same
 * read is handed back to the reader, so the body starts right after it.
 */
async function readUntil(
  reader: ConnReader,
  delimiter: Uint8Array,
  maxBytes: number,
  errors: { closed: string; tooLong: string },
): Promise<string> {
  let held: Uint8Array = new Uint8Array(0);
  for (;;) {
    const bytes = await reader.read();
    if (bytes === null) throw new Http1Error(errors.closed);
    const searchFrom = Math.max(0, held.length - delimiter.length + 1);
    held = concatBytes(held, bytes);
    const end = indexOfBytes(held, delimiter, searchFrom);
    if (end === -1 ? held.length > maxBytes + delimiter.length : end > maxBytes) {
      throw new Http1Error(errors.tooLong);
    }
    if (end === -1) continue;
    reader.unread(bytes.subarray(bytes.length - (held.length - end - delimiter.length)));
    return new TextDecoder("latin1").decode(held.subarray(0, end));
  }
}

function parseHead(text: string): ResponseHead {
  const [statusLine, ...lines] = text.split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(statusLine);
  if (!status) throw new Http1Error(`not an HTTP/1.1 status line: ${statusLine.slice(0, 80)}`);
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0 || /^[ \t]/.test(line)) {
      throw new Http1Error(`malformed header line: ${line.slice(0, 80)}`);
    }
    try {
      headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
    } catch {
      throw new Http1Error(`malformed header line: ${line.slice(0, 80)}`);
    }
  }
  return { status: Number(status[1]), headers };
}

type Framing = { kind: "none" } | { kind: "length"; bytes: number } | { kind: "chunked" } | {
  kind: "close";
};

/** How the body is delimited (RFC 9112 §6.3). */
function framing({ status, headers }: ResponseHead): Framing {
  if (status === 204 || status === 304) return { kind: "none" };
  // Asked for identity; a body still compressed would be sent on as if it were the file.
  const contentEncoding = headers.get("content-encoding")?.trim().toLowerCase();
  if (contentEncoding && contentEncoding !== "identity") {
    throw new Http1Error(`unsupported Content-Encoding: ${contentEncoding}`);
  }
  const transfer = headers.get("transfer-encoding");
  if (transfer !== null) {
    const codings = transfer.split(",").map((coding) => coding.trim().toLowerCase());
    if (codings.length === 1 && codings[0] === "chunked") return { kind: "chunked" };
    throw new Http1Error(`unsupported Transfer-Encoding: ${transfer}`);
  }
  const length = headers.get("content-length");
  if (length === null) return { kind: "close" };
  const values = new Set(length.split(",").map((value) => value.trim()));
  const [value] = values;
  if (values.size !== 1 || !/^\d{1,15}$/.test(value)) {
    throw new Http1Error(`invalid Content-Length: ${length}`);
  }
  return { kind: "length", bytes: Number(value) };
}

async function* readBody(
  reader: ConnReader,
  head: ResponseHead,
  close: () => void,
): AsyncIterable<Uint8Array> {
  try {
    const how = framing(head);
    if (how.kind === "length") yield* lengthBody(reader, how.bytes);
    else if (how.kind === "chunked") yield* chunkedBody(reader);
    else if (how.kind === "close") {
      for (let bytes; (bytes = await reader.read()) !== null;) yield bytes;
    }
  } finally {
    close();
  }
}

async function* lengthBody(reader: ConnReader, length: number): AsyncIterable<Uint8Array> {
  for (let left = length; left > 0;) {
    const bytes = await reader.read();
    if (bytes === null) throw new Http1Error(endedEarly(length - left, length));
    const take = bytes.subarray(0, Math.min(left, bytes.length));
    reader.unread(bytes.subarray(take.length));
    left -= take.length;
    yield take;
  }
}

async function* chunkedBody(reader: ConnReader): AsyncIterable<Uint8Array> {
  for (;;) {
    const sizeLine = await readLine(reader);
    const size = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(sizeLine);
    if (!size) throw new Http1Error(`malformed chunk size line: ${sizeLine.slice(0, 80)}`);
    const length = parseInt(size[1], 16);
    if (length === 0) break;
    yield* lengthBody(reader, length);
    if ((await readLine(reader)) !== "") throw new Http1Error("a chunk did not end with CRLF");
  }
  // Trailer fields, up to the empty line that ends the message.
  while ((await readLine(reader)) !== "");
}

/** One CRLF-terminated line of the chunked framing, without its CRLF. */
function readLine(reader: ConnReader): Promise<string> {
  return readUntil(reader, CRLF, MAX_CHUNK_LINE_BYTES, {
    closed: "the connection closed inside the chunked body",
    tooLong: "a chunk line is too long",
  });
}

function endedEarly(read: number, length: number): string {
  return `the connection closed after ${read} of ${length} body bytes`;
}

function untilAborted<T extends Deno.Conn>(
  connecting: Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  if (!signal) return connecting;
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason);
      connecting.then(closeQuietly, () => {});
    };
    signal.addEventListener("abort", onAbort, { once: true });
    connecting.then((conn) => {
      signal.removeEventListener("abort", onAbort);
      if (signal.aborted) closeQuietly(conn);
      else resolve(conn);
    }, (error) => {
      signal.removeEventListener("abort", onAbort);
      reject(error);
    });
  });
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
