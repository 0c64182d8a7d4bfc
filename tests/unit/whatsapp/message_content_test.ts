import { strict as assert } from "node:assert";
import type { WAMessage } from "@whiskeysockets/baileys";
import {
  fromWAMessage,
  statusFromBaileys,
  toBaileysContent,
} from "../../../src/whatsapp/message_content.ts";

const CONTACT = "15550009999@s.whatsapp.net";

const incoming = (message: WAMessage["message"], key: Partial<WAMessage["key"]> = {}) =>
  ({
    key: { remoteJid: CONTACT, id: "3EB0IN", fromMe: false, ...key },
    message,
    messageTimestamp: 1767225600,
    pushName: "Bob",
  }) as WAMessage;

Deno.test("fromWAMessage() reports texts, replies, locations and reactions", () => {
  assert.deepEqual(fromWAMessage(incoming({ conversation: "hi" })), {
    id: "3EB0IN",
    from: CONTACT,
    chat: CONTACT,
    fromPhoneNumber: "15550009999",
    pushName: "Bob",
    timestamp: "2026-01-01T00:00:00.000Z",
    type: "text",
    text: "hi",
  });
  const reply = fromWAMessage(incoming({
    extendedTextMessage: { text: "yes", contextInfo: { stanzaId: "3EB0OUT" } },
  }));
  assert.equal(reply?.text, "yes");
  assert.equal(reply?.quotedMessageId, "3EB0OUT");
  const location = fromWAMessage(incoming({
    locationMessage: { degreesLatitude: 52.5, degreesLongitude: 13.4, name: "Office" },
  }));
  assert.deepEqual(location?.location, { latitude: 52.5, longitude: 13.4, name: "Office" });
  const reaction = fromWAMessage(incoming({
    reactionMessage: { key: { id: "3EB0OUT" }, text: "👍" },
  }));
  assert.deepEqual(reaction?.reaction, { messageId: "3EB0OUT", emoji: "👍" });
  assert.equal(fromWAMessage(incoming({ eventMessage: { name: "Launch" } }))?.type, "other");
});

Deno.test("fromWAMessage() describes a media message's file, not its key", () => {
  const voice = fromWAMessage(incoming({
    audioMessage: {
      ptt: true,
      seconds: 7,
      mimetype: "audio/ogg; codecs=opus",
      fileLength: 1234,
      fileSha256: new Uint8Array(32).fill(0xab),
      mediaKey: new Uint8Array(32),
      directPath: "/v/t62.7118-24/1_n.enc",
    },
  }));
  assert.equal(voice?.type, "voice");
  assert.deepEqual(voice?.media, {
    mimetype: "audio/ogg; codecs=opus",
    size: 1234,
    sha256: "ab".repeat(32),
    duration: 7,
  });
  const document = fromWAMessage(incoming({
    documentMessage: { fileName: "a.pdf", caption: "see", mimetype: "application/pdf" },
  }));
  assert.deepEqual([document?.type, document?.caption, document?.media?.fileName], [
    "document",
    "see",
    "a.pdf",
  ]);
});

Deno.test("fromWAMessage() finds the phone number of a LID chat in the alternate JID", () => {
  const message = fromWAMessage(
    incoming({ conversation: "hi" }, { remoteJid: "2000001@lid", remoteJidAlt: CONTACT }),
  );
  assert.equal(message?.from, "2000001@lid");
  assert.equal(message?.fromPhoneNumber, "15550009999");
});

Deno.test("fromWAMessage() skips what is not a message to report", () => {
  assert.equal(fromWAMessage(incoming({ protocolMessage: { type: 0 } })), null);
  assert.equal(fromWAMessage(incoming({ senderKeyDistributionMessage: {} })), null);
  assert.equal(
    fromWAMessage(incoming({ conversation: "s" }, { remoteJid: "status@broadcast" })),
    null,
  );
  assert.equal(fromWAMessage(incoming(undefined)), null);
});

Deno.test("toBaileysContent() quotes and reacts to recent messages by their real key", () => {
  const recent = incoming({ conversation: "original" });
  const recall = (id: string) => (id === "3EB0IN" ? recent : undefined);
  const reply = toBaileysContent(CONTACT, {
    type: "text",
    text: "answer",
    quotedMessageId: "3EB0IN",
  }, recall);
  assert.deepEqual(reply.content, { text: "answer" });
  assert.equal(reply.quoted, recent);
  const unknown = toBaileysContent(
    CONTACT,
    { type: "text", text: "a", quotedMessageId: "X" },
    recall,
  );
  assert.deepEqual(unknown.quoted?.key, { remoteJid: CONTACT, id: "X", fromMe: false });
  assert.deepEqual(
    toBaileysContent(CONTACT, { type: "reaction", messageId: "3EB0IN", emoji: "👍" }, recall)
      .content,
    { react: { text: "👍", key: recent.key } },
  );
  assert.deepEqual(
    toBaileysContent(CONTACT, { type: "location", latitude: 1, longitude: 2 }, recall).content,
    { location: { degreesLatitude: 1, degreesLongitude: 2 } },
  );
});

Deno.test("statusFromBaileys() maps Baileys' status codes", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(statusFromBaileys), [
    "failed",
    "pending",
    "sent",
    "delivered",
    "read",
    "played",
  ]);
  assert.equal(statusFromBaileys(undefined), undefined);
  assert.equal(statusFromBaileys(9), undefined);
});

Deno.test("fromWAMessage() reports a group message with the group as chat and the sender as participant", () => {
  const group = "120363012345678901@g.us";
  const byLid = fromWAMessage(incoming({ conversation: "hi all" }, {
    remoteJid: group,
    participant: "200000000000002@lid",
    participantAlt: "15550009999@s.whatsapp.net",
  }));
  assert.equal(byLid?.from, group);
  assert.equal(byLid?.chat, group);
  assert.equal(byLid?.participant, "15550009999@s.whatsapp.net");
  assert.equal(byLid?.fromPhoneNumber, "15550009999");
  const lidOnly = fromWAMessage(incoming({ conversation: "hi" }, {
    remoteJid: group,
    participant: "200000000000002:3@lid",
  }));
  assert.equal(lidOnly?.participant, "200000000000002@lid");
  assert.equal(lidOnly?.fromPhoneNumber, null);
  const direct = fromWAMessage(incoming({ conversation: "hi" }));
  assert.equal("participant" in direct!, false);
});
