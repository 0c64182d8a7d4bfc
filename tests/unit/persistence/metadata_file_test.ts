import assert from "node:assert/strict";
import {
  MetadataDocument,
  parseMetadata,
  serializeMetadata,
} from "../../../src/persistence/metadata_file.ts";
import { sessionRecord } from "../../support/persistence_fixtures.ts";

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

Deno.test("serializeMetadata() output parses back to the same records", () => {
  const records = [
    sessionRecord("a", { name: "Shop" }),
    sessionRecord("b", { status: "connected" }),
  ];
  const parsed = parseMetadata(serializeMetadata(records));
  assert.deepEqual(parsed, { ok: true, records, rejected: [], plaintextSecrets: 0 });
  assert.deepEqual(parseMetadata(serializeMetadata([])), {
    ok: true,
    records: [],
    rejected: [],
    plaintextSecrets: 0,
  });
});

Deno.test("parseMetadata() fills defaults of fields that older files lack", () => {
  const parsed = parseMetadata(json({ a: { id: "a", createdAt: "2025-01-01T00:00:00.000Z" } }));
  assert.ok(parsed.ok);
  assert.equal(parsed.records[0].status, "disconnected");
  assert.equal(parsed.records[0].desiredState, "running");
});

Deno.test("parseMetadata() fails the whole file when it is not a JSON object", () => {
  for (const text of ["", "{", "[]", "null", "42", '"x"', '{"a": 1'] as const) {
    const parsed = parseMetadata(new TextEncoder().encode(text));
    assert.equal(parsed.ok, false, `accepted ${JSON.stringify(text)}`);
  }
  assert.equal(parseMetadata(new Uint8Array([0x7b, 0xff, 0x7d])).ok, false); // not UTF-8
});

Deno.test("parseMetadata() rejects bad entries one by one, with a reason, and keeps the rest", () => {
  const good = sessionRecord("good");
  const parsed = parseMetadata(json({
    good,
    "../evil": { ...good, id: "../evil" },
    wrongkey: { ...good, id: "other" },
    badstatus: { ...good, id: "badstatus", status: "dancing" },
    notobject: 7,
  }));
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.records, [good]);
  const reasons = Object.fromEntries(parsed.rejected.map((r) => [r.key, r.reason]));
  assert.deepEqual(Object.keys(reasons).sort(), ["../evil", "badstatus", "notobject", "wrongkey"]);
  assert.match(reasons["../evil"], /not a valid session id/);
  assert.match(reasons.wrongkey, /does not match its key/);
  assert.match(reasons.badstatus, /status/);
  assert.deepEqual(parsed.rejected.find((r) => r.key === "notobject")?.value, 7);
});

Deno.test("MetadataDocument re-encodes replaced entries and drops deleted ones", () => {
  const document = new MetadataDocument();
  document.set(sessionRecord("a", { status: "qr" }));
  document.set(sessionRecord("b"));
  document.set(sessionRecord("c"));
  document.set(sessionRecord("a", { status: "connected" }));
  assert.equal(document.delete("b"), true);
  assert.equal(document.delete("missing"), false);
  const text = new TextDecoder().decode(document.toBytes());
  assert.deepEqual(JSON.parse(text), {
    a: sessionRecord("a", { status: "connected" }),
    c: sessionRecord("c"),
  });
  assert.equal(text.split("\n").length, 5, "one line per entry");
  document.clear();
  assert.equal(new TextDecoder().decode(document.toBytes()), "{}\n");
});
