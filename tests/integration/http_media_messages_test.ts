/**
 * Media sends through the real app and manager, on the scripted WhatsApp port: each form of the
 * API hands the connection the exact file, staged under the data directory and gone after the
 * send, with its checked mimetype, caption, reply and normalized mentions; `message.sent`
 * describes the file without its staging key or path.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import type { OutgoingMediaMessage } from "../../src/domain/message.ts";
import { openCoreApp, requestJson } from "../support/core_app.ts";
import { serveFiles } from "../support/file_server.ts";
import { mediaFixture } from "../support/media_fixtures.ts";
import { ScriptedConnectionFactory } from "../support/scripted_connection.ts";
import { withTempDir } from "../support/temp_dir.ts";

const PATH = "/api/sessions/shop-1/messages";

Deno.test("each form hands the connection the exact file, then removes it", async () => {
  await using files = serveFiles();
  const factory = new ScriptedConnectionFactory();
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir, {
      connections: factory,
      maxMediaBytes: 512 * 1024,
      mediaUrlAllowedHosts: ["127.0.0.1"],
    });
    try {
      await requestJson(core.app, "POST", "/api/sessions", { id: "shop-1" });
      const { bytes, mimetype, width, height } = mediaFixture("image", 300_000, 4);
      const fields = { type: "image", to: "+15550009999", caption: "hi @15550008888" };
      const base64 = btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.set(name, value);
      form.append("mentions", "+15550008888");
      form.append("mentions", "15550007777@s.whatsapp.net");
      form.set("quotedMessageId", "3EB0QUOTED");
      form.set("file", new Blob([bytes], { type: mimetype }), "photo.jpg");
      const sends = [
        () =>
          requestJson(core.app, "POST", PATH, {
            ...fields,
            media: { base64, mimetype },
            mentions: ["+15550008888", "15550007777@s.whatsapp.net"],
            quotedMessageId: "3EB0QUOTED",
          }),
        () =>
          requestJson(core.app, "POST", PATH, {
            ...fields,
            media: { url: files.add("/photo", bytes, mimetype) },
            mentions: ["+15550008888", "15550007777@s.whatsapp.net"],
            quotedMessageId: "3EB0QUOTED",
          }),
        () =>
          core.app.request(PATH, {
            method: "POST",
            headers: { "x-api-key": core.apiKey },
            body: form,
          }),
      ];
      for (const send of sends) {
        const response = await send();
        const body = await response.json();
        assert.equal(response.status, 201, JSON.stringify(body));
        assert.deepEqual(Object.keys(body).sort(), ["id", "status", "timestamp", "to", "type"]);
        assert.equal(body.type, "image");
        const sent = factory.sent.at(-1)!;
        const message = sent.message as OutgoingMediaMessage;
        assert.equal(sent.id, body.id);
        assert.deepEqual(sent.file, bytes, "the exact bytes");
        assert.equal(message.caption, fields.caption);
        assert.equal(message.quotedMessageId, "3EB0QUOTED");
        assert.deepEqual(message.mentions, [
          "15550008888@s.whatsapp.net",
          "15550007777@s.whatsapp.net",
        ]);
        assert.deepEqual([message.media.mimetype, message.media.width, message.media.height], [
          mimetype,
          width,
          height,
        ]);
        assert.ok(message.media.path.startsWith(`${dir}/.media/tmp/`), message.media.path);
        await assert.rejects(
          Deno.stat(message.media.path),
          Deno.errors.NotFound,
          "removed after the send",
        );

        const event = core.events.filter((e) => e.type === "message.sent").at(-1)!;
        assert.ok(event.type === "message.sent");
        assert.deepEqual(event.content, {
          type: "image",
          caption: fields.caption,
          quotedMessageId: "3EB0QUOTED",
          mentions: ["15550008888@s.whatsapp.net", "15550007777@s.whatsapp.net"],
          media: {
            mimetype,
            size: bytes.length,
            sha256: createHash("sha256").update(bytes).digest("hex"),
          },
        });
      }
      assert.deepEqual(await Array.fromAsync(Deno.readDir(`${dir}/.media/tmp`)), []);
    } finally {
      await core.close();
    }
  });
});

Deno.test("a file sent again with the same Idempotency-Key is answered, not sent twice", async () => {
  const factory = new ScriptedConnectionFactory();
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir, { connections: factory, maxMediaBytes: 512 * 1024 });
    try {
      await requestJson(core.app, "POST", "/api/sessions", { id: "shop-1" });
      const send = (bytes: Uint8Array<ArrayBuffer>, key: string) => {
        const form = new FormData();
        form.set("type", "document");
        form.set("to", "15550009999");
        form.set("file", new Blob([bytes], { type: "application/pdf" }), "a.pdf");
        return core.app.request(PATH, {
          method: "POST",
          headers: { "x-api-key": core.apiKey, "idempotency-key": `"${key}"` },
          body: form,
        });
      };
      const file = mediaFixture("document", 20_000, 1).bytes;
      const first = await send(file, "order-1");
      const again = await send(file, "order-1");
      assert.equal(first.status, 201);
      assert.equal(again.status, 201);
      assert.deepEqual(await again.json(), await first.json(), "the first response, replayed");
      assert.equal(factory.sent.length, 1, "sent once");
      const other = await send(mediaFixture("document", 20_000, 2).bytes, "order-1");
      assert.equal(other.status, 422, "the same key with another file");
      assert.equal((await other.json()).error.code, "idempotency_key_reused");
      assert.equal(factory.sent.length, 1);
      assert.deepEqual(await Array.fromAsync(Deno.readDir(`${dir}/.media/tmp`)), []);
    } finally {
      await core.close();
    }
  });
});
