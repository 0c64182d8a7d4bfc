/**
 * Proof that the fake WhatsApp server's groups work with the real Baileys client (no gateway
 * code): group metadata, a send that every member's devices decrypt with the sender key Baileys
 * distributed, a member's message Baileys decrypts, and participant changes Baileys reports.
 */
import { strict as assert } from "node:assert";
import makeWASocket, {
  type AuthenticationState,
  type ConnectionState,
  type GroupMetadata,
  useMultiFileAuthState,
  type WAMessage,
} from "@whiskeysockets/baileys";
import pino from "pino";
import { type FakeWhatsApp, trustFakeRoot } from "../support/fake_whatsapp/server.ts";
import { withFakeServer } from "../support/fake_gateway.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const ACCOUNT = "15550001111";
const MEMBERS = ["15550002001", "15550002002", "15550002003"];

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function connect(wsUrl: string, auth: AuthenticationState, saveCreds: () => Promise<void>) {
  const socket = makeWASocket({
    auth,
    waWebSocketUrl: wsUrl,
    logger: pino({ level: "silent" }),
    markOnlineOnConnect: false,
    syncFullHistory: false,
    shouldSyncHistoryMessage: () => false,
  });
  const updates: Partial<ConnectionState>[] = [];
  socket.ev.on("creds.update", () => void saveCreds());
  socket.ev.on("connection.update", (update) => updates.push(update));
  return { socket, updates };
}

/** A linked, open Baileys socket of ACCOUNT. */
async function linkedSocket(fake: FakeWhatsApp, dir: string) {
  const { state, saveCreds } = await useMultiFileAuthState(dir);
  const first = connect(fake.wsUrl, state, saveCreds);
  await waitUntil(() => first.updates.some((u) => u.qr), "a QR");
  await fake.pairWithQr(first.updates.find((u) => u.qr)!.qr!, {
    phoneNumber: ACCOUNT,
    pushName: "Shop",
  });
  await waitUntil(() => first.updates.some((u) => u.connection === "close"), "the 515");
  const second = connect(fake.wsUrl, state, saveCreds);
  await waitUntil(() => second.updates.some((u) => u.connection === "open"), "open");
  return second.socket;
}

Deno.test(
  "a group's members decrypt what Baileys sends, Baileys decrypts a member and sees changes",
  e2e,
  () =>
    withFakeServer(async (fake, dir) => {
      trustFakeRoot(fake.rootPublicKey);
      for (const phone of MEMBERS) {
        fake.addContact({ phoneNumber: phone, pushName: phone, devices: 2 });
      }
      const socket = await linkedSocket(fake, dir);
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
        await waitUntil(() => upserts.some((m) => m.key.id === id), "the member's message");
        const received = upserts.find((m) => m.key.id === id)!;
        assert.equal(received.key.remoteJid, group);
        assert.equal(received.message?.conversation, "hi all");

        fake.groups.changeParticipants({
          group,
          actor: ACCOUNT,
          action: "remove",
          participants: [MEMBERS[1]],
        });
        await waitUntil(() => changes.some((c) => c.action === "remove"), "the removal");
      } finally {
        socket.end(undefined);
      }
    }),
);
