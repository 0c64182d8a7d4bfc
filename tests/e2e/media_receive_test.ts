/**
 * Issue 14, receiving: media a simulated contact sends reaches the gateway (a child process),
 * whose `message.received` event says what the file is: kind, mimetype, size, SHA-256, caption,
 * file name, duration, pixel size, and the API path to download it from.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import type { MediaKind } from "../support/fake_whatsapp/server.ts";
import { withLinkedGateway } from "../support/linked_gateway.ts";
import { mediaFixture } from "../support/media_fixtures.ts";
import { openEventStream } from "../support/sse_client.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const ACCOUNT = "15550001111";
const CONTACT = "15550009999";
const hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** What the contact sends for each kind, besides the file. */
const SENT: Record<MediaKind, Record<string, unknown>> = {
  image: { caption: "look", width: 640, height: 480 },
  video: { caption: "watch", seconds: 12, width: 1280, height: 720 },
  audio: { seconds: 95 },
  voice: { seconds: 4 },
  document: { caption: "the invoice", fileName: "invoice-1042.pdf" },
  sticker: { width: 512, height: 512 },
};

Deno.test(
  "message.received for each media type carries what the file is and where to download it",
  e2e,
  () =>
    withLinkedGateway("shop-1", ACCOUNT, async ({ fake, gateway }) => {
      fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
      const stream = await openEventStream(
        `${gateway.url}/api/events?session=shop-1&types=message.received`,
        { "x-api-key": gateway.apiKey! },
      );
      try {
        for (const [index, [kind, extra]] of Object.entries(SENT).entries()) {
          const fixture = mediaFixture(kind as MediaKind, 10_000 + index, index + 5);
          const { id } = await fake.deliverMedia({
            from: CONTACT,
            to: ACCOUNT,
            kind: kind as MediaKind,
            bytes: fixture.bytes,
            mimetype: fixture.mimetype,
            ...extra,
          });
          const events = await stream.waitFor((all) =>
            all.some((e) => (e.data.data as { message: { id: string } }).message.id === id)
          );
          const { message } = events.find((e) =>
            (e.data.data as { message: { id: string } }).message.id === id
          )!.data.data as { message: Record<string, unknown> };
          const { caption, fileName, seconds, width, height } = extra as Record<string, unknown>;
          assert.deepEqual(message.media, {
            mimetype: fixture.mimetype,
            size: fixture.bytes.length,
            sha256: hex(fixture.bytes),
            ...(fileName ? { fileName } : {}),
            ...(seconds ? { duration: seconds } : {}),
            ...(width ? { width, height } : {}),
          }, kind);
          assert.equal(message.type, kind);
          assert.equal(message.caption, caption);
          assert.equal(message.mediaPath, `/api/sessions/shop-1/messages/${id}/media`);
          assert.equal(message.fromPhoneNumber, CONTACT);
        }
      } finally {
        await stream.close();
      }
    }),
);
