import assert from "node:assert/strict";
import {
  decodeJournalRecords,
  encodeJournalRecord,
  JOURNAL_HEADER_BYTES,
} from "../../../src/persistence/auth_journal_record.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const first = new Map([["creds.json", bytes('{"a":1}')], ["pre-key-1.json", null]]);
const second = new Map([["creds.json", bytes('{"a":2}')], ["pré-key-ü.json", new Uint8Array()]]);

Deno.test("decodeJournalRecords() returns the records encodeJournalRecord() framed, in order", () => {
  const journal = concat(encodeJournalRecord(first), encodeJournalRecord(second));
  const decoded = decodeJournalRecords(journal);
  assert.deepEqual(decoded.records, [first, second]);
  assert.equal(decoded.validBytes, journal.length);
  assert.equal(decoded.problem, null);
});

Deno.test("an empty journal has no records and no problem", () => {
  assert.deepEqual(decodeJournalRecords(new Uint8Array()), {
    records: [],
    validBytes: 0,
    problem: null,
  });
});

Deno.test("a record torn at any byte is ignored, and the records before it are kept", () => {
  const whole = encodeJournalRecord(first);
  const torn = encodeJournalRecord(second);
  for (let cut = 1; cut < torn.length; cut++) {
    const decoded = decodeJournalRecords(concat(whole, torn.subarray(0, cut)));
    assert.deepEqual(decoded.records, [first], `cut at ${cut}`);
    assert.equal(decoded.validBytes, whole.length, `cut at ${cut}`);
    assert.match(decoded.problem ?? "", /incomplete/, `cut at ${cut}`);
  }
});

Deno.test("a record whose bytes changed fails its checksum, and decoding stops there", () => {
  const damaged = encodeJournalRecord(second);
  damaged[damaged.length - 1] ^= 0xff;
  const decoded = decodeJournalRecords(
    concat(encodeJournalRecord(first), damaged, encodeJournalRecord(first)),
  );
  assert.deepEqual(decoded.records, [first]);
  assert.match(decoded.problem ?? "", /checksum/);
});

Deno.test("zeros where a record should start (a preallocated tail) are not a record", () => {
  const whole = encodeJournalRecord(first);
  const decoded = decodeJournalRecords(concat(whole, new Uint8Array(JOURNAL_HEADER_BYTES + 8)));
  assert.deepEqual(decoded.records, [first]);
  assert.match(decoded.problem ?? "", /marker/);
});

Deno.test("a checksummed record naming a file outside the folder is refused", () => {
  const escaping = encodeJournalRecord(new Map([["../../etc/passwd", bytes("x")]]));
  const decoded = decodeJournalRecords(concat(encodeJournalRecord(first), escaping));
  assert.deepEqual(decoded.records, [first]);
  assert.match(decoded.problem ?? "", /malformed record .*must not contain/);
});
