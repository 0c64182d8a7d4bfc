import { strict as assert } from "node:assert";
import { JsonTooLargeError, StreamingJsonParser } from "../../../src/media/streaming_json.ts";
import { seededRandom } from "../../support/prng.ts";

const streamsBase64 = (path: readonly string[]) => path.join(".") === "media.base64";

/** Parses `text` pushed in the given pieces; returns the document and the streamed string. */
function parse(pieces: string[], maxOtherChars = 1e6) {
  const streamed: string[] = [];
  const parser = new StreamingJsonParser({
    streams: streamsBase64,
    onPiece: (piece) => streamed.push(piece),
    maxOtherChars,
  });
  for (const piece of pieces) parser.push(piece);
  return { value: parser.end(), streamed: streamed.join(""), parser };
}

Deno.test("StreamingJsonParser gives what JSON.parse gives, however the text is cut", () => {
  const random = seededRandom(7);
  const documents = [
    { type: "image", to: "+1555", media: { base64: "aGVsbG8/d29y+bGQ=", mimetype: "image/png" } },
    {
      a: [1, -2.5e3, 0, true, false, null, {}, [], 'é "q" \\ / \n \u0001 😀'],
      b: { c: { d: [] } },
    },
    [],
    "text",
    42,
  ];
  for (const document of documents) {
    const text = JSON.stringify(document).replace("/", "\\/");
    const expected = JSON.parse(text);
    const streamedValue = expected?.media?.base64 ?? "";
    if (expected?.media) expected.media.base64 = "";
    for (let run = 0; run < 200; run++) {
      const pieces: string[] = [];
      for (let at = 0; at < text.length;) {
        const size = random.int(1, 9);
        pieces.push(text.slice(at, at + size));
        at += size;
      }
      const { value, streamed } = parse(pieces);
      assert.deepEqual(value, expected);
      assert.equal(streamed, streamedValue);
    }
  }
});

Deno.test("StreamingJsonParser refuses what JSON.parse refuses, and duplicate keys", () => {
  const bad = [
    '{"a":1,}',
    '{"a" 1}',
    "[1 2]",
    '{"a":tru}',
    '{"a":1}x',
    '{"a":"\u0001"}',
    '{"a":01}',
    '{"a":1,"a":2}',
    '{"a":',
    '{"a":"\\x"}',
    "[}",
    "",
    '{"media":{"base64":"x","base64":"y"}}',
  ];
  for (const text of bad) assert.throws(() => parse([text]), SyntaxError, text);
});

Deno.test("StreamingJsonParser streams media.base64 without counting it against the limit", () => {
  const big = "QUFB".repeat(10_000);
  const { value, streamed, parser } = parse([`{"type":"image","media":{"base64":"${big}"}}`], 100);
  assert.equal(streamed, big);
  assert.deepEqual(value, { type: "image", media: { base64: "" } });
  assert.ok(parser.streamStarted && parser.streamEnded);
  assert.throws(() => parse([`{"caption":"${"x".repeat(200)}"}`], 100), JsonTooLargeError);
});

Deno.test("StreamingJsonParser keeps __proto__ an own property, as JSON.parse does", () => {
  const { value } = parse(['{"__proto__":{"polluted":true}}']);
  assert.deepEqual(Object.keys(value as object), ["__proto__"]);
  assert.equal(({} as { polluted?: boolean }).polluted, undefined);
  assert.equal((value as { polluted?: boolean }).polluted, undefined);
});
