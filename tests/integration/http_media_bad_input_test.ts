/**
 * Bad media sends through the real app and manager (scripted WhatsApp port): each gets its 4xx,
 * nothing reaches the connection, no `message.sent` is published, and no staged file is left.
 * The URL rules: loopback and private addresses (by IP or by what a name resolves to) are refused
 * unless allowed, and so is a redirect to one, even from an allowed host.
 */
import { strict as assert } from "node:assert";
import { type CoreApp, openCoreApp, requestJson } from "../support/core_app.ts";
import { serveFiles } from "../support/file_server.ts";
import { type MediaFixture, mediaFixture, pngFixture } from "../support/media_fixtures.ts";
import { ScriptedConnectionFactory } from "../support/scripted_connection.ts";
import { withTempDir } from "../support/temp_dir.ts";

const MAX_MEDIA = 64 * 1024;
const PATH = "/api/sessions/shop-1/messages";
const base64 = (bytes: Uint8Array) =>
  btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));

/** A connected session `shop-1` on an app with small limits; checks nothing was sent after. */
async function withMediaApp(
  fn: (core: CoreApp) => Promise<void>,
  options: { mediaUrlAllowedHosts?: string[] } = {},
) {
  const factory = new ScriptedConnectionFactory();
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir, {
      connections: factory,
      maxMediaBytes: MAX_MEDIA,
      maxBodyBytes: 16 * 1024,
      ...options,
    });
    try {
      assert.equal(
        (await requestJson(core.app, "POST", "/api/sessions", { id: "shop-1" })).status,
        201,
      );
      await fn(core);
      assert.deepEqual(factory.sent, [], "nothing reached the connection");
      assert.equal(core.events.filter((e) => e.type === "message.sent").length, 0);
      const staged = await Array.fromAsync(Deno.readDir(`${dir}/.media/tmp`)).catch(() => []);
      assert.deepEqual(staged, [], "no staged file left");
    } finally {
      await core.close();
    }
  });
}

/** Sends a JSON body; asserts the status and error code. */
async function expectJson(core: CoreApp, body: unknown, status: number, code: string) {
  const response = await requestJson(core.app, "POST", PATH, body);
  const answer = await response.json();
  assert.equal(response.status, status, JSON.stringify(answer));
  assert.equal(answer.error.code, code, JSON.stringify(answer));
  return answer;
}

function form(fields: Record<string, string>, file?: MediaFixture): FormData {
  const data = new FormData();
  for (const [name, value] of Object.entries(fields)) data.set(name, value);
  if (file) data.set("file", new Blob([file.bytes], { type: file.mimetype }), "f.bin");
  return data;
}

async function expectForm(
  core: CoreApp,
  body: BodyInit,
  status: number,
  code: string,
  type?: string,
) {
  const response = await core.app.request(PATH, {
    method: "POST",
    headers: { "x-api-key": core.apiKey, ...(type ? { "content-type": type } : {}) },
    body,
  });
  const answer = await response.json();
  assert.equal(response.status, status, JSON.stringify(answer));
  assert.equal(answer.error.code, code, JSON.stringify(answer));
}

const image = (overrides: Record<string, unknown> = {}) => {
  const { bytes, mimetype } = mediaFixture("image", 2_000);
  return {
    type: "image",
    to: "15550009999",
    media: { base64: base64(bytes), mimetype },
    ...overrides,
  };
};

Deno.test("a file over MAX_MEDIA_BYTES gets 413 in every form, before anything is sent", async () => {
  await using files = serveFiles();
  await withMediaApp(async (core) => {
    const big = mediaFixture("document", MAX_MEDIA + 1);
    await expectJson(
      core,
      {
        type: "document",
        to: "15550009999",
        media: { base64: base64(big.bytes), mimetype: big.mimetype },
      },
      413,
      "media_too_large",
    );
    await expectForm(
      core,
      form({ type: "document", to: "15550009999" }, big),
      413,
      "media_too_large",
    );
    const url = files.add("/big.pdf", big.bytes, big.mimetype);
    await expectJson(
      core,
      { type: "document", to: "15550009999", media: { url } },
      413,
      "media_too_large",
    );
    // A body larger than any file could make it is refused by its Content-Length, unread.
    const huge = "A".repeat(4 * MAX_MEDIA);
    await expectJson(
      core,
      image({ media: { base64: huge, mimetype: "image/jpeg" } }),
      413,
      "payload_too_large",
    );
    // A message without a file keeps MAX_BODY_BYTES.
    await expectJson(
      core,
      { type: "text", to: "15550009999", text: "x".repeat(20_000) },
      413,
      "payload_too_large",
    );
  }, { mediaUrlAllowedHosts: ["127.0.0.1"] });
});

Deno.test("an unknown type is 400, and content its kind or mimetype contradicts is 415", async () => {
  await withMediaApp(async (core) => {
    await expectJson(core, image({ type: "gif" }), 400, "invalid_input");
    await expectForm(
      core,
      form({ type: "gif", to: "15550009999" }, mediaFixture("image", 500)),
      400,
      "invalid_input",
    );
    const pdf = mediaFixture("document", 1_000);
    await expectJson(
      core,
      image({ media: { base64: base64(pdf.bytes), mimetype: "image/jpeg" } }),
      415,
      "unsupported_media_type",
    );
    const jpeg = mediaFixture("image", 1_000);
    await expectJson(
      core,
      image({ media: { base64: base64(jpeg.bytes), mimetype: "image/png" } }),
      415,
      "unsupported_media_type",
    );
    await expectJson(
      core,
      {
        type: "sticker",
        to: "15550009999",
        media: { base64: base64(pngFixture(64, 64).bytes), mimetype: "image/png" },
      },
      415,
      "unsupported_media_type",
    );
    const mp3 = mediaFixture("audio", 1_000);
    await expectForm(
      core,
      form({ type: "voice", to: "15550009999" }, mp3),
      415,
      "unsupported_media_type",
    );
    await expectJson(
      core,
      {
        type: "document",
        to: "15550009999",
        media: { base64: base64(jpeg.bytes), mimetype: "application/pdf" },
      },
      415,
      "unsupported_media_type",
    );
  });
});

Deno.test("bad fields, bad base64 and broken bodies are 400", async () => {
  await withMediaApp(async (core) => {
    await expectJson(core, { ...image(), type: "sticker", caption: "no" }, 400, "invalid_input");
    await expectJson(core, image({ fileName: "a.jpg" }), 400, "invalid_input");
    await expectJson(
      core,
      image({ media: { base64: "not base64!", mimetype: "image/jpeg" } }),
      400,
      "invalid_input",
    );
    await expectJson(
      core,
      image({ media: { base64: "", mimetype: "image/jpeg" } }),
      400,
      "invalid_input",
    );
    await expectJson(
      core,
      image({ media: { url: "ftp://example.com/a.jpg" } }),
      400,
      "invalid_input",
    );
    await expectForm(
      core,
      '{"type":"image","media":{"base64":"/9j/',
      400,
      "malformed_json",
      "application/json",
    );
    await expectForm(core, form({ type: "image", to: "15550009999" }), 400, "invalid_input");
    await expectForm(core, "--x\r\n", 400, "invalid_input", "multipart/form-data");
    const jpeg = mediaFixture("image", 5_000);
    // A body cut before its closing boundary, as a dropped upload leaves it.
    const boundary = "media-test-boundary";
    const parts = `--${boundary}\r\nContent-Disposition: form-data; name="type"\r\n\r\nimage\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="to"\r\n\r\n15550009999\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n` +
      `Content-Type: image/jpeg\r\n\r\n`;
    const full = new Uint8Array([
      ...new TextEncoder().encode(parts),
      ...jpeg.bytes,
      ...new TextEncoder().encode(`\r\n--${boundary}--\r\n`),
    ]);
    const truncated = full.slice(0, full.length - 200);
    await expectForm(
      core,
      truncated,
      400,
      "invalid_input",
      `multipart/form-data; boundary=${boundary}`,
    );
  });
});

Deno.test("media URLs to loopback or private addresses are refused by default", async () => {
  await using files = serveFiles();
  await withMediaApp(async (core) => {
    const url = files.add("/a.jpg", mediaFixture("image", 1_000).bytes, "image/jpeg");
    const forbidden = (target: string) =>
      expectJson(core, image({ media: { url: target } }), 400, "media_url_forbidden");
    await forbidden(url);
    await forbidden("http://10.0.0.1/a.jpg");
    await forbidden("http://169.254.169.254/latest/meta-data");
    await forbidden(`http://[::1]:${new URL(url).port}/a.jpg`);
    // A name is judged by the addresses it resolves to.
    await forbidden(url.replace("127.0.0.1", "localhost"));
    assert.equal(files.requests, 0, "no request reached the server");
  });
});

Deno.test("a redirect to a private address is refused, even from an allowed host", async () => {
  await using files = serveFiles();
  await withMediaApp(async (core) => {
    const target = files.add("/a.jpg", mediaFixture("image", 1_000).bytes, "image/jpeg");
    const toPrivate = files.redirect("/to-private", "http://10.0.0.1/a.jpg");
    const toLoopback = files.redirect("/to-loopback", target);
    for (const url of [toPrivate, toLoopback]) {
      await expectJson(
        core,
        image({ media: { url: url.replace("127.0.0.1", "localhost") } }),
        400,
        "media_url_forbidden",
      );
    }
    assert.equal(files.requests, 2, "only the two redirects were fetched");
  }, { mediaUrlAllowedHosts: ["localhost"] });
});
