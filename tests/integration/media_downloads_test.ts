/**
 * Downloads of received media against the fake's HTTPS media server: the exact bytes, or an
 * error and nothing at all; the size-capped cache (least recently used out, re-checked before
 * each use, removed with its session); expired files.
 */
import { strict as assert } from "node:assert";
import { MediaDownloadError, MediaNotFoundError } from "../../src/domain/errors.ts";
import { MediaDownloads, type MediaReference } from "../../src/media/media_downloads.ts";
import { mediaReferenceOf } from "../../src/whatsapp/media_message.ts";
import { encryptFile } from "../support/fake_whatsapp/media_crypto.ts";
import { FakeMediaServer } from "../support/fake_whatsapp/media_server.ts";
import { mediaFixture } from "../support/media_fixtures.ts";
import { withTempDir } from "../support/temp_dir.ts";

interface World {
  media: FakeMediaServer;
  dir: string;
  downloads: (cacheBytes: number) => MediaDownloads;
  /** A file as a contact would have sent it: uploaded, and its message's reference. */
  upload: (size: number, seed?: number) => Promise<{ bytes: Uint8Array; ref: MediaReference }>;
}

async function withMedia(fn: (world: World) => Promise<void>) {
  const media = await FakeMediaServer.start();
  const client = Deno.createHttpClient({ caCerts: [media.caCertPem] });
  try {
    await withTempDir((dir) =>
      fn({
        media,
        dir,
        downloads: (cacheBytes) =>
          new MediaDownloads({
            dataDir: dir,
            host: media.host,
            cacheBytes,
            fetch: (input, init) => fetch(input, { ...init, client }),
            referenceOf: mediaReferenceOf,
          }),
        upload: async (size, seed = 1) => {
          const { bytes, mimetype } = mediaFixture("document", size, seed);
          const encrypted = await encryptFile(bytes, "document");
          const { directPath } = media.put(encrypted.encrypted);
          return { bytes, ref: { kind: "document", mimetype, directPath, ...encrypted } };
        },
      })
    );
  } finally {
    client.close();
    await media.close();
  }
}

async function read(opened: { body: ReadableStream<Uint8Array> }): Promise<Uint8Array> {
  return new Uint8Array(await new Response(opened.body).arrayBuffer());
}

async function cachedFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  const root = `${dir}/.media/cache`;
  const sessions = await Array.fromAsync(Deno.readDir(root)).catch(() => []);
  for (const session of sessions) {
    for await (const file of Deno.readDir(`${root}/${session.name}`)) {
      files.push(`${session.name}/${file.name}`);
    }
  }
  return files;
}

Deno.test("a downloaded file is the exact bytes, and the second time it comes from the cache", () =>
  withMedia(async ({ media, dir, downloads, upload }) => {
    const { bytes, ref } = await upload(300_001);
    const service = downloads(10 * 1024 * 1024);
    const first = await service.open("shop-1", "MSG1", ref);
    assert.equal(first.size, bytes.length);
    assert.deepEqual(await read(first), bytes);
    assert.deepEqual(await read(await service.open("shop-1", "MSG1", ref)), bytes);
    assert.equal(media.downloads().length, 1, "one download from WhatsApp");
    assert.equal((await cachedFiles(dir)).length, 1);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(`${dir}/.media/tmp`)), []);
  }));

Deno.test("a file that does not match its message is refused whole, and never cached", () =>
  withMedia(async ({ media, dir, downloads, upload }) => {
    const { ref } = await upload(50_000);
    media.corrupt(ref.directPath);
    const service = downloads(10 * 1024 * 1024);
    await assert.rejects(service.open("shop-1", "MSG1", ref), MediaDownloadError);
    const { ref: other } = await upload(1_000, 2);
    await assert.rejects(
      service.open("shop-1", "MSG2", { ...other, fileSha256: new Uint8Array(32) }),
      MediaDownloadError,
    );
    await assert.rejects(
      service.open("shop-1", "MSG3", { ...other, directPath: "//evil.example/x" }),
      MediaDownloadError,
    );
    assert.deepEqual(await cachedFiles(dir), []);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(`${dir}/.media/tmp`)), []);
  }));

Deno.test("an expired file is MediaNotFoundError", () =>
  withMedia(async ({ media, downloads, upload }) => {
    const { ref } = await upload(1_000);
    media.expire(ref.directPath);
    await assert.rejects(downloads(0).open("shop-1", "MSG1", ref), MediaNotFoundError);
  }));

Deno.test("the cache keeps within its size, drops the least recently used, and re-checks files", () =>
  withMedia(async ({ media, dir, downloads, upload }) => {
    const files = await Promise.all([1, 2, 3].map((seed) => upload(40_000, seed)));
    const service = downloads(100_000); // two files fit
    await read(await service.open("shop-1", "A", files[0].ref));
    await read(await service.open("shop-1", "B", files[1].ref));
    await read(await service.open("shop-1", "A", files[0].ref)); // A is now the most recent
    await read(await service.open("shop-1", "C", files[2].ref)); // evicts B
    assert.equal((await cachedFiles(dir)).length, 2);
    const before = media.downloads().length;
    await read(await service.open("shop-1", "A", files[0].ref));
    assert.equal(media.downloads().length, before, "A still cached");
    await read(await service.open("shop-1", "B", files[1].ref));
    assert.equal(media.downloads().length, before + 1, "B was evicted");

    // A cached file damaged on disk is noticed, dropped and downloaded again.
    const [cached] = await cachedFiles(dir);
    const path = `${dir}/.media/cache/${cached}`;
    const damaged = await Deno.readFile(path);
    damaged[10] ^= 0xff;
    await Deno.writeFile(path, damaged);
    const all = await Promise.all(
      ["A", "B", "C"].map(async (id, i) =>
        await read(await service.open("shop-1", id, files[[0, 1, 2][i]].ref))
      ),
    );
    assert.deepEqual(all, files.map((f) => f.bytes));

    // Larger than the whole cache: served, not kept.
    const big = await upload(150_000, 9);
    assert.deepEqual(await read(await service.open("shop-1", "BIG", big.ref)), big.bytes);
    assert.ok((await cachedFiles(dir)).length <= 2);
    await service.removeSession("shop-1");
    assert.deepEqual(await cachedFiles(dir), []);
  }));
