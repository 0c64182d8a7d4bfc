/**
 * Proof that the fake WhatsApp server's groups work with the real Baileys client (no gateway
 * code): group metadata, a send that every member's devices decrypt with the sender key Baileys
 * distributed, a member's message Baileys decrypts, and participant changes Baileys reports.
 */
import { strict as assert } from "node:assert";
import type { GroupMetadata, WAMessage } from "@whiskeysockets/baileys";
import { pairFresh, waitUntil, withFake } from "../support/baileys_client.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const ACCOUNT = "15550001111";
const MEMBERS = ["15550002001", "15550002002", "15550002003"];

Deno.test(
  "a group's members decrypt what Baileys sends, Baileys decrypts a member and sees changes",
  e2e,
  () =>
    withFake(async (fake, dir) => {
      for (const phone of MEMBERS) {
        fake.addContact({ phoneNumber: phone, pushName: phone, devices: 2 });
      }
      const { socket: { socket } } = await pairFresh(fake, dir, ACCOUNT);
      const upserts: WAMessage[] = [];
      const changes: { action: string; participants: unknown[] }[] = [];
      socket.ev.on("messages.upsert", ({ messages, type }) => {
        if (type === "notify") {
          upserts.push(...messages);
        }
      });
      socket.ev.on("group-participants.update", (update) => changes.push(update));
      try {
        const created: GroupMetadata = await socket.groupCreate(
          "Customers",
          MEMBERS.map((phone) => `${phone}@s.whatsapp.net`),
        );
        assert.equal(created.subject, "Customers");
        assert.equal(created.participants.length, 4);
        const group = created.id;

        const sent = await socket.sendMessage(group, { text: "hello group" });
        for (const phone of MEMBERS) {
          for (const device of [0, 1]) {
            await fake.waitForReceived((m) =>
              m.id === sent!.key.id && m.to === phone && m.device === device && m.group === group
            );
          }
        }
        assert.deepEqual(fake.groups.failures(), []);

        const second = await socket.sendMessage(group, { text: "again" });
        await fake.waitForReceived((m) => m.id === second!.key.id && m.to === MEMBERS[2]);
        const record = fake.groups.sends().find((s) => s.id === second!.key.id)!;
        assert.deepEqual(record.senderKeyTo, [], "the sender key went out once");

        const { id } = await fake.groups.sendText({ from: MEMBERS[0], group, text: "hi all" });
        await waitUntil(() => upserts.some((m) => m.key.id === id), 10_000);
        const received = upserts.find((m) => m.key.id === id)!;
        assert.equal(received.key.remoteJid, group);
        assert.equal(received.message?.conversation, "hi all");

        fake.groups.changeParticipants({
          group,
          actor: ACCOUNT,
          action: "remove",
          participants: [MEMBERS[1]],
        });
        await waitUntil(() => changes.some((c) => c.action === "remove"), 10_000);
      } finally {
        socket.end(undefined);
      }
    }),
);
