/**
 * Issue 14, sending: the gateway, as a child process against the fake WhatsApp server, sends
 * every media type in each form the API takes (JSON base64, a URL on loopback allowed explicitly,
 * over http and https, multipart), and the simulated contact downloads, checks and decrypts exactly those bytes.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import type { MediaKind } from "../support/fake_whatsapp/server.ts";
import { withLinkedGateway } from "../support/linked_gateway.ts";
import { mediaFixture } from "../support/media_fixtures.ts";
import { serveFiles } from "../support/file_server.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const ACCOUNT = "15550001111";
const CONTACT = "15550009999";
const KINDS: MediaKind[] = ["image", "video", "audio", "voice", "document", "sticker"];
const hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const base64 = (bytes: Uint8Array) =>
  btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));

/** The fields each kind may carry besides its file. */
function extras(kind: MediaKind): Record<string, string> {
  if (kind === "document") return { fileName: "report.pdf", caption: `the ${kind}` };
  if (kind === "image" || kind === "video") return { caption: `the ${kind} @${CONTACT}` };
  return {};
}

Deno.test(
  "every media type is sent as JSON base64, by URL and as multipart, and decrypts byte for byte",
  e2e,
  async () => {
    await using files = serveFiles();
    await withLinkedGateway("shop-1", ACCOUNT, async ({ fake, gateway }) => {
      // HTTPS with the fake's CA (the gateway trusts it through DENO_CERT), named by host name:
      // the connection goes to the checked IP and TLS is verified against the name.
      await using secureFiles = serveFiles(fake.media.tls);
      const sendJson = (body: unknown) =>
        gateway.fetch("/api/sessions/shop-1/messages", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
      const { id: incoming } = await fake.deliverText({ from: CONTACT, to: ACCOUNT, text: "hi" });
      for (const [index, kind] of KINDS.entries()) {
        const fixture = mediaFixture(kind, 40_000 + index * 777, index + 1);
        const forms: Record<string, () => Promise<Response>> = {
          base64: () =>
            sendJson({
              type: kind,
              to: `+${CONTACT}`,
              media: { base64: base64(fixture.bytes), mimetype: fixture.mimetype },
              quotedMessageId: incoming,
              mentions: [`+${CONTACT}`],
              ...extras(kind),
            }),
          url: () =>
            sendJson({
              type: kind,
              to: CONTACT,
              media: { url: files.add(`/media/${kind}.bin`, fixture.bytes, fixture.mimetype) },
              ...extras(kind),
            }),
          httpsUrl: () =>
            sendJson({
              type: kind,
              to: CONTACT,
              media: {
                url: secureFiles.add(`/media/${kind}.bin`, fixture.bytes, fixture.mimetype)
                  .replace("127.0.0.1", "localhost"),
              },
              ...extras(kind),
            }),
          multipart: () => {
            const form = new FormData();
            form.set("type", kind);
            form.set("to", CONTACT);
            for (const [name, value] of Object.entries(extras(kind))) form.set(name, value);
            form.append("mentions", CONTACT);
            form.set("file", new Blob([fixture.bytes], { type: fixture.mimetype }), "upload.bin");
            return gateway.fetch("/api/sessions/shop-1/messages", { method: "POST", body: form });
          },
        };
        for (const [form, send] of Object.entries(forms)) {
          const response = await send();
          const body = await response.json();
          assert.equal(response.status, 201, `${kind} by ${form}: ${JSON.stringify(body)}`);
          assert.equal(body.type, kind);
          assert.equal(body.status, "sent");
          const received = await fake.waitForReceived((m) => m.id === body.id);
          assert.equal(received.mediaError, undefined, `${kind} by ${form}`);
          assert.equal(received.media?.kind, kind);
          assert.equal(received.media?.sha256, hex(fixture.bytes), `${kind} by ${form}: the bytes`);
          assert.equal(received.media?.mimetype, fixture.mimetype);
          const { caption, fileName } = extras(kind);
          assert.equal(received.media?.caption, caption);
          assert.equal(received.media?.fileName, fileName);
          if (form === "base64") {
            assert.equal(received.quotedMessageId, incoming, `${kind}: the quoted reply`);
            assert.deepEqual(received.mentions, [`${CONTACT}@s.whatsapp.net`]);
          }
          if (fixture.width) {
            assert.deepEqual([received.media?.width, received.media?.height], [
              fixture.width,
              fixture.height,
            ]);
          }
        }
      }
      assert.equal(fake.media.uploads().length, KINDS.length * 4);
      // Run as `deno task start` runs it, the gateway frees media chunks promptly (V8's gc).
      assert.ok(gateway.logs.some((line) => /free their chunk buffers/.test(String(line.msg))));
    }, { env: { MEDIA_URL_ALLOWED_HOSTS: "127.0.0.1,localhost" } });
  },
);
