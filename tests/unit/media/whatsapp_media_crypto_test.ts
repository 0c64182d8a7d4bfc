import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { getMediaKeys } from "@whiskeysockets/baileys";
import {
  expandMediaKey,
  MediaDecryptor,
  MediaEncryptor,
} from "../../../src/media/whatsapp_media_crypto.ts";
import { decryptFile, encryptFile } from "../../support/fake_whatsapp/media_crypto.ts";
import { seededRandom } from "../../support/prng.ts";

const random = seededRandom(11);
const bytes = (n: number) => new Uint8Array(n).map(() => random.int(0, 255));

function encryptInPieces(plaintext: Uint8Array, mediaKey: Uint8Array) {
  const encryptor = new MediaEncryptor(mediaKey, "video");
  const out: Uint8Array[] = [];
  for (let at = 0; at < plaintext.length; at += 777) {
    out.push(encryptor.update(plaintext.slice(at, at + 777)));
  }
  out.push(encryptor.final());
  return { encrypted: new Uint8Array(out.flatMap((c) => [...c])), digest: encryptor.digest };
}

function decryptInPieces(
  encrypted: Uint8Array,
  mediaKey: Uint8Array,
  digest: MediaEncryptor["digest"],
) {
  const decryptor = new MediaDecryptor(mediaKey, "video");
  const out: number[] = [];
  for (let at = 0; at < encrypted.length; at += 1_001) {
    out.push(...decryptor.update(encrypted.slice(at, at + 1_001)));
  }
  const { plaintext, problem } = decryptor.final(digest);
  return { plaintext: new Uint8Array([...out, ...plaintext]), problem };
}

Deno.test("expandMediaKey derives the keys Baileys derives", async () => {
  const mediaKey = bytes(32);
  for (
    const [kind, baileysType] of [["image", "image"], ["voice", "ptt"], ["sticker", "sticker"], [
      "document",
      "document",
    ]] as const
  ) {
    const ours = expandMediaKey(mediaKey, kind);
    const theirs = await getMediaKeys(mediaKey, baileysType);
    assert.deepEqual(
      [ours.iv, ours.cipherKey, ours.macKey].map((k) => [...k]),
      [theirs.iv, theirs.cipherKey, theirs.macKey].map((k) => [...k!]),
    );
  }
});

Deno.test("MediaEncryptor's output is what a phone decrypts, and MediaDecryptor opens a phone's", async () => {
  const plaintext = bytes(50_003);
  const mediaKey = bytes(32);
  const { encrypted, digest } = encryptInPieces(plaintext, mediaKey);
  const opened = await decryptFile(encrypted, { mediaKey, ...digest }, "video");
  assert.deepEqual(opened, plaintext);

  const phone = await encryptFile(plaintext, "video");
  const result = decryptInPieces(phone.encrypted, phone.mediaKey, phone);
  assert.equal(result.problem, null);
  assert.deepEqual(result.plaintext, plaintext);
});

Deno.test("MediaDecryptor reports a changed byte, a wrong hash and a cut file", () => {
  const plaintext = bytes(4_000);
  const mediaKey = bytes(32);
  const { encrypted, digest } = encryptInPieces(plaintext, mediaKey);
  const flipped = encrypted.slice();
  flipped[100] ^= 1;
  assert.equal(decryptInPieces(flipped, mediaKey, digest).problem, "fileEncSha256 mismatch");
  assert.equal(
    decryptInPieces(flipped, mediaKey, { ...digest, fileEncSha256: sha(flipped) }).problem,
    "MAC mismatch",
  );
  assert.equal(
    decryptInPieces(encrypted, mediaKey, { ...digest, fileSha256: new Uint8Array(32) }).problem,
    "fileSha256 mismatch",
  );
  assert.equal(decryptInPieces(encrypted.slice(0, 5), mediaKey, digest).problem, "too short");
});

function sha(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}
