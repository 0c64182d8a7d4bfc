/**
 * An incremental JSON parser that hands one string value out in pieces as it arrives instead of
 * building it: a request's `media.base64` can be tens of megabytes, every other field is small.
 * Text goes in with `push`, in chunks of any size; `end` returns the document, with the streamed
 * string replaced by `""`. Malformed JSON throws `SyntaxError`; more than `maxOtherChars` of
 * other content throws `JsonTooLargeError`.
 */

/** The JSON outside the streamed string is larger than allowed. */
export class JsonTooLargeError extends Error {
  constructor(readonly maxChars: number) {
    super(`The JSON outside the streamed field exceeds ${maxChars} characters`);
    this.name = "JsonTooLargeError";
  }
}

type Frame =
  | { kind: "object"; value: Record<string, unknown>; key: string | null; expect: Expect }
  | { kind: "array"; value: unknown[]; expect: Expect };
type Expect = "key" | "colon" | "value" | "comma";
type Mode = "normal" | "string" | "scalar";

const MAX_DEPTH = 32;
/** What ends a run of plain string characters: a quote, a backslash, a control character. */
// deno-lint-ignore no-control-regex -- control characters must be escaped in JSON strings
const STRING_SPECIAL = /["\\\u0000-\u001f]/g;
const ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

export interface StreamingJsonOptions {
  /** Whether the string value at this path (object keys from the root) is streamed out. */
  streams(path: readonly string[]): boolean;
  /** Receives the streamed string, piece by piece. */
  onPiece(text: string): void;
  maxOtherChars: number;
}

/**
 * Parses one JSON document pushed in pieces.
 *
 * @example
 * ```ts
 * const parser = new StreamingJsonParser({ streams: (p) => p.join(".") === "media.base64", onPiece, maxOtherChars: 1e6 });
 * parser.push('{"media":{"base64":"aGVs'); parser.push('bG8="}}');
 * parser.end(); // { media: { base64: "" } }
 * ```
 */
export class StreamingJsonParser {
  readonly #options: StreamingJsonOptions;
  readonly #stack: Frame[] = [];
  #mode: Mode = "normal";
  #root: { value: unknown } | undefined;
  /** The string or number/literal being read, unless streamed. */
  #token = "";
  #stringIsKey = false;
  #streaming = false;
  #escape: string | null = null;
  #otherChars = 0;
  /** Set when the streamed string started, and when it ended. */
  streamStarted = false;
  streamEnded = false;

  constructor(options: StreamingJsonOptions) {
    this.#options = options;
  }

  /** Parses the next piece of text. */
  push(text: string): void {
    let at = 0;
    while (at < text.length) {
      if (this.#mode === "string") at = this.#string(text, at);
      else if (this.#mode === "scalar") at = this.#scalar(text, at);
      else at = this.#normal(text, at);
    }
  }

  /** Finishes: returns the document, or throws if it is incomplete or has trailing content. */
  end(): unknown {
    if (this.#mode === "scalar") this.#finishScalar();
    if (this.#mode !== "normal" || this.#stack.length > 0 || !this.#root) {
      throw new SyntaxError("Unexpected end of JSON input");
    }
    return this.#root.value;
  }

  #normal(text: string, at: number): number {
    const char = text[at];
    if (char === " " || char === "\n" || char === "\r" || char === "\t") return at + 1;
    const frame = this.#stack.at(-1);
    const expect = frame?.expect ?? (this.#root ? "end" : "value");
    if (char === '"' && (expect === "value" || expect === "key")) {
      this.#mode = "string";
      this.#stringIsKey = expect === "key";
      this.#token = "";
      this.#streaming = expect === "value" && this.#options.streams(this.#path());
      if (this.#streaming) {
        if (this.streamStarted) throw new SyntaxError("The streamed field appears twice");
        this.streamStarted = true;
      }
      return at + 1;
    }
    if (expect === "colon" && char === ":") {
      frame!.expect = "value";
      return at + 1;
    }
    if (expect === "comma" && (char === "," || char === "}" || char === "]")) {
      if (char === ",") {
        frame!.expect = frame!.kind === "object" ? "key" : "value";
        return at + 1;
      }
      return this.#close(char, at);
    }
    if (
      (char === "}" && expect === "key" && frame?.kind === "object" && isEmpty(frame)) ||
      (char === "]" && expect === "value" && frame?.kind === "array" && frame.value.length === 0)
    ) {
      return this.#close(char, at);
    }
    if (expect !== "value") throw unexpected(char);
    if (char === "{" || char === "[") {
      if (this.#stack.length >= MAX_DEPTH) throw new SyntaxError("JSON nested too deeply");
      const value = char === "{" ? {} : [];
      this.#stack.push(
        char === "{"
          ? { kind: "object", value: value as Record<string, unknown>, key: null, expect: "key" }
          : { kind: "array", value: value as unknown[], expect: "value" },
      );
      return at + 1;
    }
    if (/[-0-9tfn]/.test(char)) {
      this.#mode = "scalar";
      this.#token = "";
      return at;
    }
    throw unexpected(char);
  }

  #close(char: string, at: number): number {
    const frame = this.#stack.pop()!;
    if ((char === "}") !== (frame.kind === "object")) throw unexpected(char);
    this.#value(frame.value);
    return at + 1;
  }

  #string(text: string, at: number): number {
    if (this.#escape !== null) return this.#escaped(text, at);
    STRING_SPECIAL.lastIndex = at;
    const end = STRING_SPECIAL.exec(text)?.index ?? text.length;
    this.#append(text.slice(at, end));
    if (end === text.length) return end;
    if (text.charCodeAt(end) < 0x20) throw new SyntaxError("Control character in a JSON string");
    if (text[end] === "\\") {
      this.#escape = "";
      return end + 1;
    }
    this.#mode = "normal";
    if (this.#streaming) {
      this.#streaming = false;
      this.streamEnded = true;
      this.#value("");
    } else if (this.#stringIsKey) {
      const frame = this.#stack.at(-1) as Extract<Frame, { kind: "object" }>;
      frame.key = this.#token;
      frame.expect = "colon";
    } else {
      this.#value(this.#token);
    }
    return end + 1;
  }

  #escaped(text: string, at: number): number {
    const sequence = this.#escape! + text[at];
    if (sequence[0] !== "u") {
      const replacement = ESCAPES[sequence];
      if (replacement === undefined) throw new SyntaxError(`Bad escape \\${sequence}`);
      this.#escape = null;
      this.#append(replacement);
      return at + 1;
    }
    if (sequence.length < 5) {
      this.#escape = sequence;
      return at + 1;
    }
    if (!/^u[0-9a-fA-F]{4}$/.test(sequence)) throw new SyntaxError(`Bad escape \\${sequence}`);
    this.#escape = null;
    this.#append(String.fromCharCode(parseInt(sequence.slice(1), 16)));
    return at + 1;
  }

  #scalar(text: string, at: number): number {
    let end = at;
    while (end < text.length && /[-+.0-9a-zA-Z]/.test(text[end])) end++;
    this.#count(end - at);
    this.#token += text.slice(at, end);
    if (end < text.length) this.#finishScalar();
    return end;
  }

  #finishScalar(): void {
    this.#mode = "normal";
    const token = this.#token;
    if (!/^(true|false|null|-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?)$/.test(token)) {
      throw new SyntaxError(`Unexpected token ${token.slice(0, 20)} in JSON`);
    }
    this.#value(JSON.parse(token));
  }

  #append(text: string): void {
    if (this.#streaming) {
      if (text) this.#options.onPiece(text);
      return;
    }
    this.#count(text.length);
    this.#token += text;
  }

  #count(chars: number): void {
    this.#otherChars += chars;
    if (this.#otherChars > this.#options.maxOtherChars) {
      throw new JsonTooLargeError(this.#options.maxOtherChars);
    }
  }

  /** Stores a finished value in its parent (or as the root). */
  #value(value: unknown): void {
    const frame = this.#stack.at(-1);
    if (!frame) {
      this.#root = { value };
      return;
    }
    if (frame.kind === "array") frame.value.push(value);
    else {
      if (Object.hasOwn(frame.value, frame.key!)) {
        throw new SyntaxError(`Duplicate key ${JSON.stringify(frame.key)} in JSON`);
      }
      // An own property even for "__proto__", as JSON.parse makes it.
      Object.defineProperty(frame.value, frame.key!, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    frame.expect = "comma";
  }

  #path(): string[] {
    const path: string[] = [];
    for (const frame of this.#stack) {
      if (frame.kind !== "object" || frame.key === null) return ["\u0000"]; // inside an array
      path.push(frame.key);
    }
    return path;
  }
}

function isEmpty(frame: Extract<Frame, { kind: "object" }>): boolean {
  return frame.key === null && Object.keys(frame.value).length === 0;
}

function unexpected(char: string): SyntaxError {
  return new SyntaxError(`Unexpected character ${JSON.stringify(char)} in JSON`);
}
