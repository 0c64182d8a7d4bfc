import { strict as assert } from "node:assert";
import { UnsupportedMediaError } from "../../../src/domain/errors.ts";
import { checkMediaType } from "../../../src/media/media_type_rules.ts";
import { mediaFixture, pngFixture } from "../../support/media_fixtures.ts";

Deno.test("checkMediaType names each kind's content, with image sizes", () => {
  for (const kind of ["image", "video", "audio", "voice", "document", "sticker"] as const) {
    const fixture = mediaFixture(kind, 1_000);
    const checked = checkMediaType(kind, fixture.bytes);
    assert.equal(checked.mimetype, fixture.mimetype, kind);
    assert.equal(checked.width, fixture.width, kind);
    assert.equal(checked.height, fixture.height, kind);
    assert.equal(checkMediaType(kind, fixture.bytes, fixture.mimetype).mimetype, fixture.mimetype);
  }
  assert.deepEqual(checkMediaType("image", pngFixture(3, 7).bytes), {
    mimetype: "image/png",
    width: 3,
    height: 7,
  });
  assert.equal(
    checkMediaType("image", mediaFixture("image", 100).bytes, "image/jpg").mimetype,
    "image/jpeg",
  );
});

Deno.test("checkMediaType refuses content a kind does not take, or a mimetype it contradicts", () => {
  const pdf = mediaFixture("document", 500).bytes;
  const jpeg = mediaFixture("image", 500).bytes;
  const refused: [Parameters<typeof checkMediaType>[0], Uint8Array, string?][] = [
    ["image", pdf],
    ["image", jpeg, "image/png"],
    ["sticker", pngFixture(1, 1).bytes],
    ["voice", mediaFixture("audio", 500).bytes],
    ["video", jpeg],
    ["audio", new TextEncoder().encode("plain text")],
    ["document", jpeg, "application/pdf"],
    ["document", new TextEncoder().encode("plain text"), "image/png"],
  ];
  for (const [kind, bytes, declared] of refused) {
    assert.throws(
      () => checkMediaType(kind, bytes, declared),
      UnsupportedMediaError,
      `${kind} ${declared}`,
    );
  }
});

Deno.test("checkMediaType takes any document whose declared type is not contradicted", () => {
  const zip = new Uint8Array([0x50, 0x4b, 0x03, 0x04, 1, 2, 3]);
  const docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
  assert.equal(checkMediaType("document", zip, docx).mimetype, docx);
  assert.equal(
    checkMediaType("document", new TextEncoder().encode("a,b\n1,2"), "text/csv").mimetype,
    "text/csv",
  );
  assert.equal(
    checkMediaType("document", new TextEncoder().encode("?")).mimetype,
    "application/octet-stream",
  );
});
