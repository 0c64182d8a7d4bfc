import { strict as assert } from "node:assert";
import { multipartBoundary, MultipartReader } from "../../../src/media/multipart_reader.ts";
import { ValidationError } from "../../../src/domain/errors.ts";
import { seededRandom } from "../../support/prng.ts";

async function* pieces(bytes: Uint8Array, sizes: () => number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length;) {
    const size = sizes();
    yield bytes.slice(at, at + size);
    at += size;
  }
}

async function readAll(reader: MultipartReader) {
  const parts: { name: string; filename?: string; contentType?: string; body: Uint8Array }[] = [];
  for (let part = await reader.next(); part; part = await reader.next()) {
    const chunks = await Array.fromAsync(part.body);
    const body = new Uint8Array(await new Blob(chunks as Uint8Array<ArrayBuffer>[]).arrayBuffer());
    const { body: _, ...about } = part;
    parts.push({ ...about, body });
  }
  return parts;
}

Deno.test("MultipartReader reads what FormData encodes, however the body is cut", async () => {
  const random = seededRandom(3);
  const file = new Uint8Array(20_000).map(() => random.int(0, 255));
  // Bytes that look like a delimiter's start, inside the file.
  file.set(new TextEncoder().encode("\r\n--\r\n-"), 1_000);
  const form = new FormData();
  form.set("type", "document");
  form.set("caption", "é ü\r\n--not a boundary");
  form.set("file", new Blob([file], { type: "application/pdf" }), 'a "quoted" name.pdf');
  const request = new Request("http://x/", { method: "POST", body: form });
  const boundary = multipartBoundary(request.headers.get("content-type")!);
  const body = new Uint8Array(await request.arrayBuffer());
  for (let run = 0; run < 30; run++) {
    const parts = await readAll(
      new MultipartReader(pieces(body, () => random.int(1, 700)), boundary),
    );
    assert.deepEqual(parts.map((p) => p.name), ["type", "caption", "file"]);
    assert.equal(new TextDecoder().decode(parts[1].body), "é ü\r\n--not a boundary");
    assert.equal(parts[2].contentType, "application/pdf");
    assert.equal(parts[2].filename, 'a "quoted" name.pdf'.replaceAll('"', "%22"));
    assert.deepEqual(parts[2].body, file);
  }
});

Deno.test("MultipartReader refuses a body cut short, and one without its boundary", async () => {
  const body = new TextEncoder().encode(
    '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue\r\n--b--\r\n',
  );
  for (let cut = 0; cut < body.length - 4; cut++) {
    await assert.rejects(
      readAll(new MultipartReader(pieces(body.slice(0, cut), () => 5), "b")),
      ValidationError,
      `cut at ${cut}`,
    );
  }
  assert.deepEqual((await readAll(new MultipartReader(pieces(body, () => 5), "b"))).length, 1);
  assert.throws(() => multipartBoundary("multipart/form-data"), ValidationError);
  const noName = new TextEncoder().encode(
    "--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--",
  );
  await assert.rejects(
    readAll(new MultipartReader(pieces(noName, () => 100), "b")),
    ValidationError,
  );
});
