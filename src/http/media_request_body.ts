/**
 * Reading a send request that may carry a file, without ever holding the file whole: a JSON
 * body's `media.base64` is decoded into the staging area as it arrives; a multipart body's `file`
 * part is staged as it arrives. Whatever else the body holds must fit `MAX_BODY_BYTES`.
 */
import { Buffer } from "node:buffer";
import { HTTPException } from "hono/http-exception";
import { ValidationError } from "../domain/errors.ts";
import type { IncomingFile, MediaIntake } from "../media/media_intake.ts";
import type { StagedFile } from "../media/media_staging.ts";
import { MultipartReader } from "../media/multipart_reader.ts";
import { JsonTooLargeError, StreamingJsonParser } from "../media/streaming_json.ts";

/** Counts a body's bytes as they stream; past `maxBytes`, 413 without reading further. */
export async function* limitedBody(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
): AsyncGenerator<Uint8Array> {
  if (!body) return;
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > maxBytes) throw tooLarge(maxBytes);
    yield chunk;
  }
}

/** 413 as the body limit answers it. */
export function tooLarge(maxBytes: number): HTTPException {
  return new HTTPException(413, { message: `Request body exceeds ${maxBytes} bytes` });
}

/** A JSON body: the document (`media.base64` emptied, its bytes staged), and its text if small. */
export interface JsonMessageBody {
  value: unknown;
  /** The body's text, when it is within `MAX_BODY_BYTES` (to hand on a message without a file). */
  text?: string;
  /** The decoded `media.base64`, staged. */
  staged?: StagedFile;
}

const BASE64_PIECE = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Parses a JSON send request as it streams in; `media.base64` goes straight to the staging area.
 * Malformed JSON is 400 `malformed_json`, bad base64 400, other content past `maxBodyBytes` 413.
 */
export async function readJsonMessageBody(
  chunks: AsyncIterable<Uint8Array>,
  intake: MediaIntake,
  maxBodyBytes: number,
): Promise<JsonMessageBody> {
  const pieces: string[] = [];
  const parser = new StreamingJsonParser({
    streams: (path) => path.length === 2 && path[0] === "media" && path[1] === "base64",
    onPiece: (piece) => pieces.push(piece),
    maxOtherChars: maxBodyBytes,
  });
  const source = chunks[Symbol.asyncIterator]();
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let text: string[] | undefined = [];
  let textLength = 0;
  let done = false;
  const pump = async () => {
    const { value, done: ended } = await source.next();
    let decoded: string;
    try {
      decoded = ended ? decoder.decode() : decoder.decode(value, { stream: true });
    } catch {
      throw new SyntaxError("the body is not UTF-8");
    }
    done = ended ?? false;
    if (text) {
      textLength += decoded.length;
      if (textLength > maxBodyBytes) text = undefined;
      else text.push(decoded);
    }
    parser.push(decoded);
  };
  let staged: StagedFile | undefined;
  try {
    while (!done && !parser.streamStarted) await pump();
    if (parser.streamStarted) {
      staged = await intake.stage(decodeBase64(async function* () {
        for (;;) {
          yield* pieces.splice(0);
          if (parser.streamEnded) return;
          if (done) throw new SyntaxError("Unexpected end of JSON input");
          await pump();
        }
      }()));
    }
    while (!done) await pump();
    return { value: parser.end(), ...(text ? { text: text.join("") } : {}), staged };
  } catch (error) {
    if (staged) await intake.discard(staged);
    if (error instanceof JsonTooLargeError) throw tooLarge(maxBodyBytes);
    if (error instanceof SyntaxError) {
      throw new HTTPException(400, { message: `Malformed JSON in request body: ${error.message}` });
    }
    throw error;
  }
}

/** Base64 text in pieces of any length → bytes, checking the alphabet and padding. */
async function* decodeBase64(pieces: AsyncIterable<string>): AsyncGenerator<Uint8Array> {
  let carry = "";
  let padded = false;
  for await (const piece of pieces) {
    if (padded && piece.length > 0) throw badBase64();
    const text = carry + piece;
    if (!BASE64_PIECE.test(text)) throw badBase64();
    padded = text.endsWith("=");
    if (padded && text.length % 4 !== 0) throw badBase64();
    const usable = padded ? text.length : text.length - (text.length % 4);
    carry = text.slice(usable);
    if (usable > 0) yield new Uint8Array(Buffer.from(text.slice(0, usable), "base64"));
  }
  if (carry.length % 4 === 1) throw badBase64();
  if (carry) yield new Uint8Array(Buffer.from(carry, "base64"));
}

function badBase64(): ValidationError {
  return new ValidationError(
    "Invalid request: media.base64: must be base64 (A-Z, a-z, 0-9, +, /)",
    [
      { path: "media.base64", message: "must be base64" },
    ],
  );
}

/** A multipart body: its form fields and its staged `file` part. */
export interface MultipartMessageBody {
  fields: Record<string, string | string[]>;
  file?: IncomingFile & { filename?: string };
}

const MAX_FIELD_BYTES = 64 * 1024;
const REPEATABLE = new Set(["mentions"]);

/**
 * Reads a multipart send request: small fields into memory (within `maxBodyBytes` together),
 * the `file` part into the staging area. A truncated body is 400; nothing stays staged on error.
 */
export async function readMultipartMessageBody(
  chunks: AsyncIterable<Uint8Array>,
  boundary: string,
  intake: MediaIntake,
  maxBodyBytes: number,
): Promise<MultipartMessageBody> {
  const reader = new MultipartReader(chunks, boundary);
  const fields: Record<string, string | string[]> = {};
  let file: MultipartMessageBody["file"];
  let fieldBytes = 0;
  try {
    for (let part = await reader.next(); part; part = await reader.next()) {
      if (part.name === "file") {
        if (file) throw new ValidationError("Invalid request: more than one file part");
        const declared = part.contentType && !/^application\/octet-stream\b/i.test(part.contentType)
          ? part.contentType
          : undefined;
        file = {
          file: await intake.stage(part.body),
          ...(declared ? { declared } : {}),
          ...(part.filename ? { filename: part.filename } : {}),
        };
        continue;
      }
      const bytes: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of part.body) {
        size += chunk.length;
        fieldBytes += chunk.length;
        if (size > MAX_FIELD_BYTES) {
          throw new ValidationError(`Invalid request: ${part.name}: too long`);
        }
        if (fieldBytes > maxBodyBytes) throw tooLarge(maxBodyBytes);
        bytes.push(chunk);
      }
      const value = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(bytes));
      if (REPEATABLE.has(part.name)) {
        fields[part.name] = [...((fields[part.name] as string[] | undefined) ?? []), value];
      } else if (part.name in fields) {
        throw new ValidationError(`Invalid request: ${part.name}: given twice`);
      } else {
        fields[part.name] = value;
      }
    }
    return { fields, file };
  } catch (error) {
    if (file) await intake.discard(file.file);
    if (error instanceof TypeError) {
      throw new ValidationError("Invalid request: a form field is not UTF-8 text");
    }
    throw error;
  }
}
