/**
 * The gateway's own upload to WhatsApp's media hosts (instead of Baileys' `waUploadToServer`),
 * against the fake's media server: the file as the body, the token checked by the server, the
 * next host tried with a fresh `media_conn` when one refuses.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { FakeMediaServer, trustFakeMedia } from "../../support/fake_whatsapp/media_server.ts";
import { type MediaConn, uploadToMediaHost } from "../../../src/whatsapp/media_host_upload.ts";

async function withMediaServer(fn: (media: FakeMediaServer, file: string) => Promise<void>) {
  const media = await FakeMediaServer.start();
  trustFakeMedia(media);
  const dir = await Deno.makeTempDir({ prefix: "media-host-upload-" });
  try {
    const file = join(dir, "upload.enc");
    await Deno.writeFile(file, new Uint8Array(300_000).map((_, i) => (i * 7919) % 251));
    await fn(media, file);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await media.close();
  }
}

const sha256 = (bytes: Uint8Array) => new Uint8Array(createHash("sha256").update(bytes).digest());

Deno.test("a refused upload is retried on the next host with a fresh media_conn", async () => {
  await withMediaServer(async (media, file) => {
    const bytes = await Deno.readFile(file);
    const forced: boolean[] = [];
    const source = {
      refreshMediaConn(force = false): Promise<MediaConn> {
        forced.push(force);
        // The first answer's token is stale: the server refuses it.
        const auth = force ? media.auth : "stale";
        return Promise.resolve({
          auth,
          hosts: [{ hostname: media.host }, { hostname: media.host }],
        });
      },
    };
    const placed = await uploadToMediaHost(source, file, sha256(bytes), "video", 30_000);
    assert.deepEqual(forced, [false, true]);
    assert.deepEqual(media.get(placed.directPath), bytes);
    assert.ok(placed.mediaUrl.startsWith(`https://${media.host}/`));
    assert.deepEqual(media.uploads().map((u) => [u.type, u.size]), [["video", bytes.length]]);
  });
});

Deno.test("an upload no host takes fails, naming each host's answer", async () => {
  await withMediaServer(async (media, file) => {
    const source = {
      refreshMediaConn: () =>
        Promise.resolve({ auth: media.auth, hosts: [{ hostname: media.host }] }),
    };
    // A hash that is not the file's: the server refuses it.
    await assert.rejects(
      uploadToMediaHost(source, file, new Uint8Array(32), "document", 30_000),
      (error: Error) =>
        error.message.includes(media.host) && error.message.includes("does not match"),
    );
    assert.equal(media.uploads().length, 0);
  });
});
