import { strict as assert } from "node:assert";
import { inviteOf, normalizeGroupJid, normalizeInviteCode } from "../../../src/domain/groups.ts";
import { isJpeg } from "../../../src/domain/contacts.ts";

Deno.test("normalizeGroupJid() takes a group JID or its bare id, and nothing else", () => {
  assert.equal(normalizeGroupJid("120363012345678901@g.us"), "120363012345678901@g.us");
  assert.equal(normalizeGroupJid("120363012345678901"), "120363012345678901@g.us");
  assert.equal(normalizeGroupJid("15550001111-1596012345@g.us"), "15550001111-1596012345@g.us");
  for (
    const input of [
      "",
      "1234",
      "15550001111@s.whatsapp.net",
      "120363012345678901@g.us/../x",
      "120363@lid",
      "abc@g.us",
      "../../etc",
    ]
  ) {
    assert.equal(normalizeGroupJid(input), null, input);
  }
});

Deno.test("normalizeInviteCode() takes a code or its chat.whatsapp.com link", () => {
  assert.equal(normalizeInviteCode("AbCdEfGhIjKlMnOpQrStUv"), "AbCdEfGhIjKlMnOpQrStUv");
  assert.equal(
    normalizeInviteCode("https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv"),
    "AbCdEfGhIjKlMnOpQrStUv",
  );
  for (
    const input of [
      "short",
      "http://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv",
      "a b c d e f g h i j",
    ]
  ) {
    assert.equal(normalizeInviteCode(input), null, input);
  }
  assert.equal(inviteOf("X").link, "https://chat.whatsapp.com/X");
});

Deno.test("isJpeg() knows a JPEG by its first bytes", () => {
  assert.equal(isJpeg(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0])), true);
  assert.equal(isJpeg(new TextEncoder().encode("GIF89a")), false);
  assert.equal(isJpeg(new Uint8Array([0xff, 0xd8])), false);
});
