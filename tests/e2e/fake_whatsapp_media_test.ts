/**
 * Proof that the fake WhatsApp server carries media for the real Baileys client, with no gateway
 * code: `media_conn`, uploads checked against `fileEncSha256`, simulated contacts that download
 * and decrypt what a companion sent, and that send every media type it can download and decrypt.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import {
  type AnyMessageContent,
  downloadMediaMessage,
  type WAMessage,
} from "@whiskeysockets/baileys";
import { pairFresh, waitUntil, withFake } from "../support/baileys_client.ts";
import type { MediaKind } from "../support/fake_whatsapp/server.ts";
import { mediaFixture } from "../support/media_fixtures.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const ACCOUNT = "15550001111";
const CONTACT = "15550009999";
const CONTACT_JID = `${CONTACT}@s.whatsapp.net`;
const hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** What Baileys is asked to send for each kind, with its fixture. */
function baileysContent(kind: MediaKind, bytes: Uint8Array, mimetype: string): AnyMessageContent {
  const media = Buffer.from(bytes);
  switch (kind) {
    case "image":
      return { image: media, mimetype, caption: "an image" };
    case "video":
      return { video: media, mimetype, caption: "a video" };
    case "audio":
      return { audio: media, mimetype, seconds: 3 };
    case "voice":
      return { audio: media, mimetype, ptt: true, seconds: 2 };
    case "document":
      return { document: media, mimetype, fileName: "report.pdf", caption: "a document" };
    case "sticker":
      return { sticker: media, mimetype };
  }
}

const KINDS: MediaKind[] = ["image", "video", "audio", "voice", "document", "sticker"];

Deno.test(
  "a contact downloads, checks and decrypts every media type a Baileys client sends",
  e2e,
  () =>
    withFake(async (fake, dir) => {
      const { socket } = await pairFresh(fake, dir, ACCOUNT);
      try {
        fake.addContact({ phoneNumber: CONTACT });
        for (const [index, kind] of KINDS.entries()) {
          const { bytes, mimetype } = mediaFixture(kind, 20_000 + index * 1_000, index + 1);
          const sent = await socket.socket.sendMessage(
            CONTACT_JID,
            baileysContent(kind, bytes, mimetype),
          );
          const received = await fake.waitForReceived((m) => m.id === sent!.key.id);
          assert.equal(received.mediaError, undefined);
          assert.equal(received.media?.kind, kind);
          assert.equal(received.media?.sha256, hex(bytes), `${kind}: the exact bytes`);
          assert.deepEqual(received.media?.bytes, bytes);
        }
        assert.deepEqual(
          fake.media.uploads().map((u) => u.type),
          ["image", "video", "audio", "audio", "document", "image"],
          "uploaded at the paths Baileys uses (MEDIA_PATH_MAP)",
        );
      } finally {
        socket.socket.end(undefined);
      }
    }),
);

Deno.test(
  "every media type a contact sends reaches a Baileys client, which downloads and decrypts it",
  e2e,
  () =>
    withFake(async (fake, dir) => {
      const { socket } = await pairFresh(fake, dir, ACCOUNT);
      try {
        fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
        const upserts: WAMessage[] = [];
        socket.socket.ev.on("messages.upsert", ({ messages }) => upserts.push(...messages));
        for (const [index, kind] of KINDS.entries()) {
          const { bytes, mimetype } = mediaFixture(kind, 30_000 + index, index + 10);
          const { id } = await fake.deliverMedia({
            from: CONTACT,
            to: ACCOUNT,
            kind,
            bytes,
            mimetype,
            caption: kind === "image" ? "look" : undefined,
            fileName: kind === "document" ? "invoice.pdf" : undefined,
          });
          await waitUntil(() => upserts.some((m) => m.key.id === id));
          const message = upserts.find((m) => m.key.id === id)!;
          const downloaded = await downloadMediaMessage(message, "buffer", {});
          assert.equal(hex(downloaded), hex(bytes), `${kind}: the exact bytes`);
          if (kind === "voice") assert.equal(message.message?.audioMessage?.ptt, true);
          if (kind === "image") assert.equal(message.message?.imageMessage?.caption, "look");
          if (kind === "document") {
            assert.equal(message.message?.documentMessage?.fileName, "invoice.pdf");
          }
        }
      } finally {
        socket.socket.end(undefined);
      }
    }),
);

Deno.test(
  "the media server refuses an upload whose body does not match its fileEncSha256",
  e2e,
  () =>
    withFake(async (fake) => {
      const token = "A".repeat(43);
      const response = await fetch(
        `https://${fake.media.host}/mms/image/${token}?auth=${fake.media.auth}&token=${token}`,
        { method: "POST", body: new Uint8Array([1, 2, 3]) },
      );
      assert.equal(response.status, 400);
      await response.body?.cancel();
      const wrongAuth = await fetch(
        `https://${fake.media.host}/mms/image/${token}?auth=nope&token=${token}`,
        { method: "POST", body: new Uint8Array([1, 2, 3]) },
      );
      assert.equal(wrongAuth.status, 401);
      await wrongAuth.body?.cancel();
      assert.deepEqual(fake.media.uploads(), []);
    }),
);
