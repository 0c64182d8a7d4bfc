import { strict as assert } from "node:assert";
import { concatBytes, indexOfBytes } from "../../../src/lib/bytes.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("concatBytes joins two arrays, and hands back the second when the first is empty", () => {
  assert.deepEqual(concatBytes(bytes("ab"), bytes("cd")), bytes("abcd"));
  const b = bytes("cd");
  assert.equal(concatBytes(new Uint8Array(0), b), b);
});

Deno.test("indexOfBytes finds a needle at or after a position, across the whole haystack", () => {
  const crlf = bytes("\r\n");
  assert.equal(indexOfBytes(bytes("a\r\nb\r\n"), crlf), 1);
  assert.equal(indexOfBytes(bytes("a\r\nb\r\n"), crlf, 2), 4);
  assert.equal(indexOfBytes(bytes("a\r\nb\r"), crlf, 2), -1);
  assert.equal(indexOfBytes(bytes("\r\n"), crlf, -5), 0);
});
