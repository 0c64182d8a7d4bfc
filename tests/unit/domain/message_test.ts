import { strict as assert } from "node:assert";
import { normalizePhoneNumber, normalizeRecipient } from "../../../src/domain/message.ts";

Deno.test("normalizeRecipient() turns phone numbers and user JIDs into <digits>@s.whatsapp.net", () => {
  const jid = "15550009999@s.whatsapp.net";
  for (
    const input of [
      "15550009999",
      "+15550009999",
      " 15550009999 ",
      jid,
      "15550009999:3@s.whatsapp.net",
      "15550009999@c.us",
    ]
  ) {
    assert.equal(normalizeRecipient(input), jid, input);
  }
});

Deno.test("normalizeRecipient() refuses what is neither a user nor a group: LIDs, text, wrong lengths", () => {
  for (
    const input of [
      "",
      "+",
      "12345",
      "1234567890123456",
      "+1 555 000 9999",
      "hello",
      "1203@g.us",
      "120363012345678901@g.us.evil",
      "120363-x@g.us",
      "2000001@lid",
      "1555@s.whatsapp.net",
      "15550009999@example.com",
      "++15550009999",
    ]
  ) {
    assert.equal(normalizeRecipient(input), null, input);
  }
});

Deno.test("normalizeRecipient() takes group JIDs as they are, also the older owner-timestamp form", () => {
  assert.equal(normalizeRecipient("120363012345678901@g.us"), "120363012345678901@g.us");
  assert.equal(normalizeRecipient(" 15550001111-1596012345@g.us "), "15550001111-1596012345@g.us");
});

Deno.test("normalizePhoneNumber() keeps the digits of a number with an optional +", () => {
  assert.equal(normalizePhoneNumber("+15550009999"), "15550009999");
  assert.equal(normalizePhoneNumber("15550009999@s.whatsapp.net"), null);
});
