/**
 * Issue 14, downloads: a file a contact sent downloads through the API byte for byte, with its
 * type and name, from WhatsApp the first time and from the cache after; a file WhatsApp serves
 * changed is 502 with nothing of it passed on; expired, unknown and file-less messages are 404;
 * a file the session sent downloads too; the cache holds no plaintext and goes with its session.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import type { MediaKind } from "../support/fake_whatsapp/server.ts";
import { withLinkedGateway } from "../support/linked_gateway.ts";
import { mediaFixture } from "../support/media_fixtures.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const ACCOUNT = "15550001111";
const CONTACT = "15550009999";
const KINDS: MediaKind[] = ["image", "video", "audio", "voice", "document", "sticker"];
const hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const ENCRYPTION_KEY = btoa("k".repeat(32));

async function cachedFiles(dataDir: string): Promise<string[]> {
  const root = `${dataDir}/.media/cache/shop-1`;
  return (await Array.fromAsync(Deno.readDir(root)).catch(() => [])).map((e) =>
    `${root}/${e.name}`
  );
}

Deno.test(
  "received files download through the API byte for byte, then from the cache",
  e2e,
  () =>
    withLinkedGateway("shop-1", ACCOUNT, async ({ fake, gateway, dataDir }) => {
      fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
      const sent: { id: string; bytes: Uint8Array; mimetype: string; kind: MediaKind }[] = [];
      for (const [index, kind] of KINDS.entries()) {
        const { bytes, mimetype } = mediaFixture(kind, 70_000 + index * 333, index + 20);
        const fileName = kind === "document" ? "Rechnung März.pdf" : undefined;
        const { id } = await fake.deliverMedia({
          from: CONTACT,
          to: ACCOUNT,
          kind,
          bytes,
          mimetype,
          fileName,
        });
        sent.push({ id, bytes, mimetype, kind });
      }
      for (const { id, bytes, mimetype, kind } of sent) {
        const path = `/api/sessions/shop-1/messages/${id}/media`;
        const response = await waitForStored(() => gateway.fetch(path));
        assert.equal(response.status, 200, `${kind}: ${response.status}`);
        assert.equal(response.headers.get("content-type"), mimetype);
        assert.equal(response.headers.get("content-length"), String(bytes.length));
        assert.equal(response.headers.get("x-content-type-options"), "nosniff");
        const disposition = response.headers.get("content-disposition")!;
        assert.match(disposition, /^attachment; /);
        if (kind === "document") {
          assert.match(disposition, /filename\*=UTF-8''Rechnung%20M%C3%A4rz\.pdf/);
        } else assert.match(disposition, new RegExp(`filename="${id}\\.`));
        const body = new Uint8Array(await response.arrayBuffer());
        assert.equal(hex(body), hex(bytes), `${kind}: the exact bytes`);
      }
      const downloads = fake.media.downloads().length;
      assert.equal(downloads, KINDS.length);
      for (const { id, bytes } of sent) {
        const again = await gateway.fetch(`/api/sessions/shop-1/messages/${id}/media`);
        assert.equal(hex(new Uint8Array(await again.arrayBuffer())), hex(bytes));
      }
      assert.equal(fake.media.downloads().length, downloads, "served from the cache");

      const cached = await cachedFiles(dataDir);
      assert.equal(cached.length, KINDS.length);
      for (const file of cached) {
        const data = await Deno.readFile(file);
        for (const { bytes } of sent) {
          assert.notEqual(hex(data), hex(bytes), "no plaintext cached");
        }
      }

      // A file this session sent downloads too, from the message store's copy of its message.
      const own = mediaFixture("image", 9_000, 77);
      const form = new FormData();
      form.set("type", "image");
      form.set("to", CONTACT);
      form.set("file", new Blob([own.bytes], { type: own.mimetype }), "own.jpg");
      const { id: ownId } =
        await (await gateway.fetch("/api/sessions/shop-1/messages", { method: "POST", body: form }))
          .json();
      const ownFile = await waitForStored(() =>
        gateway.fetch(`/api/sessions/shop-1/messages/${ownId}/media`)
      );
      assert.equal(hex(new Uint8Array(await ownFile.arrayBuffer())), hex(own.bytes));

      // The session's cached files go with it.
      assert.equal((await gateway.fetch("/api/sessions/shop-1", { method: "DELETE" })).status, 204);
      await waitFor(async () => (await cachedFiles(dataDir)).length === 0);
    }, { env: { SESSIONS_ENCRYPTION_KEY: ENCRYPTION_KEY } }),
);

Deno.test(
  "a changed file is 502 with nothing passed on; expired, unknown and file-less messages are 404",
  e2e,
  () =>
    withLinkedGateway("shop-1", ACCOUNT, async ({ fake, gateway, dataDir }) => {
      fake.addContact({ phoneNumber: CONTACT });
      const { bytes, mimetype } = mediaFixture("image", 30_000, 5);
      const corrupted = await fake.deliverMedia({
        from: CONTACT,
        to: ACCOUNT,
        kind: "image",
        bytes,
        mimetype,
      });
      fake.media.corrupt(corrupted.directPath);
      const response = await waitForStored(() =>
        gateway.fetch(`/api/sessions/shop-1/messages/${corrupted.id}/media`)
      );
      assert.equal(response.status, 502);
      assert.equal((await response.json()).error.code, "media_download_failed");
      assert.deepEqual(await cachedFiles(dataDir), [], "never cached");

      const expired = await fake.deliverMedia({
        from: CONTACT,
        to: ACCOUNT,
        kind: "image",
        bytes,
        mimetype,
      });
      fake.media.expire(expired.directPath);
      const gone = await waitForStored(() =>
        gateway.fetch(`/api/sessions/shop-1/messages/${expired.id}/media`)
      );
      assert.equal(gone.status, 404);
      assert.equal((await gone.json()).error.code, "media_not_found");

      const { id: text } = await fake.deliverText({ from: CONTACT, to: ACCOUNT, text: "no file" });
      const plain = await waitForStored(() =>
        gateway.fetch(`/api/sessions/shop-1/messages/${text}/media`)
      );
      assert.equal(plain.status, 404);
      await plain.body?.cancel();
      const unknown = await gateway.fetch("/api/sessions/shop-1/messages/3EB0000000000000/media");
      assert.equal(unknown.status, 404);
      await unknown.body?.cancel();
      const noSession = await gateway.fetch("/api/sessions/nope/messages/3EB0000000000000/media");
      assert.equal((await noSession.json()).error.code, "session_not_found");
      const badId = await gateway.fetch("/api/sessions/shop-1/messages/..%2Fx/media");
      assert.equal(badId.status, 400);
      await badId.body?.cancel();
    }),
);

/** Retries a request while the message is not stored yet (the store is written just after the event). */
async function waitForStored(request: () => Promise<Response>): Promise<Response> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const response = await request();
    if (response.status !== 404 || Date.now() > deadline) return response;
    const body = await response.json();
    if (!body.error.message.includes("is not stored")) return Response.json(body, { status: 404 });
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
