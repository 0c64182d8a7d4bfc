/**
 * Proof that the fake WhatsApp server speaks enough of the protocol for the real Baileys client:
 * plain Baileys sockets (no gateway code) pair, log in again, and get logged out, replaced and
 * dropped.
 */
import { strict as assert } from "node:assert";
import { useMultiFileAuthState } from "@whiskeysockets/baileys";
import { type FakeWhatsApp, trustFakeRoot } from "../support/fake_whatsapp/server.ts";
import { type SpawnedFakeWhatsApp, spawnFakeWhatsApp } from "../support/fake_whatsapp/spawn.ts";
import { withTempDir } from "../support/temp_dir.ts";
import {
  connect,
  pairFresh,
  waitUntil,
  waitUntilAsync,
  withFake,
} from "../support/baileys_client.ts";

// Baileys leaves caches and timers behind after `end()`.
const e2e = { sanitizeOps: false, sanitizeResources: false };

/** `meId` is a device of `phoneNumber`, the fake's only device, and it is online. */
function assertLinkedAlone(fake: FakeWhatsApp, meId: string, phoneNumber: string): void {
  assert.match(meId, new RegExp(`^${phoneNumber}:\\d+@s\\.whatsapp\\.net$`));
  assert.deepEqual(fake.devices().map((d) => [d.phoneNumber, d.online]), [[phoneNumber, true]]);
}

/** POSTs `body` to a control route of a spawned fake; answers the status. */
async function postControl(
  fake: SpawnedFakeWhatsApp,
  route: string,
  body: unknown,
): Promise<number> {
  const response = await fetch(`${fake.controlUrl}/${route}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  await response.body?.cancel();
  return response.status;
}

/** A socket on a fresh auth folder in `dir`, trusting a fake that runs as its own process. */
async function connectToSpawned(fake: SpawnedFakeWhatsApp, dir: string) {
  trustFakeRoot(Uint8Array.from(atob(fake.rootPublicKeyBase64), (c) => c.charCodeAt(0)));
  const { state, saveCreds } = await useMultiFileAuthState(dir);
  return { state, saveCreds, first: connect(fake.wsUrl, state, saveCreds) };
}

Deno.test(
  "a fresh auth folder pairs by QR, restarts on 515 and opens with creds.me set",
  e2e,
  () =>
    withFake(async (fake, dir) => {
      const { state, socket } = await pairFresh(fake, dir, "15550001111");
      try {
        assertLinkedAlone(fake, state.creds.me!.id, "15550001111");
        assert.equal(state.creds.me!.name, "Alice");
      } finally {
        socket.socket.end(undefined);
      }
    }),
);

Deno.test(
  "saved credentials log in again without a QR, in this process and in another",
  e2e,
  () =>
    withFake(async (fake, dir) => {
      const paired = await pairFresh(fake, dir, "15550001111");
      paired.socket.socket.end(undefined);
      await paired.socket.closeCode();

      const { state, saveCreds } = await useMultiFileAuthState(dir);
      const again = connect(fake.wsUrl, state, saveCreds);
      try {
        await again.waitFor((u) => u.connection === "open");
        assert.ok(!again.updates.some((u) => u.qr), "no QR on login");
      } finally {
        again.socket.end(undefined);
        await again.closeCode();
      }

      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../support/fake_whatsapp/login_child.ts", import.meta.url).pathname,
        ],
        env: {
          WA_WS_URL: fake.wsUrl,
          WA_TEST_ROOT_PUBKEY: fake.rootPublicKeyBase64,
          AUTH_DIR: dir,
        },
        stdout: "piped",
        stderr: "piped",
      });
      const { code, stdout, stderr } = await child.output();
      const out = new TextDecoder().decode(stdout);
      assert.equal(code, 0, out + new TextDecoder().decode(stderr));
      assert.match(out, /"connection":"open"/);
    }),
);

Deno.test(
  "the phone removing the device logs the client out and refuses its next login",
  e2e,
  () =>
    withFake(async (fake, dir) => {
      const { state, saveCreds, socket } = await pairFresh(fake, dir, "15550001111");
      await fake.removeDevice("15550001111");
      assert.equal(await socket.closeCode(), 401);
      const again = connect(fake.wsUrl, state, saveCreds);
      assert.equal(await again.closeCode(), 401);
    }),
);

Deno.test(
  "a replaced connection gets 440 and a dropped one can reconnect",
  e2e,
  () =>
    withFake(async (fake, dir) => {
      const { state, saveCreds, socket } = await pairFresh(fake, dir, "15550001111");
      await fake.replaceConnection("15550001111");
      assert.equal(await socket.closeCode(), 440);

      const again = connect(fake.wsUrl, state, saveCreds);
      await again.waitFor((u) => u.connection === "open");
      await fake.dropConnection("15550001111");
      const code = await again.closeCode();
      assert.ok(code === 428 || code === 408, `closed with ${code}`);
      const third = connect(fake.wsUrl, state, saveCreds);
      try {
        await third.waitFor((u) => u.connection === "open");
      } finally {
        third.socket.end(undefined);
      }
    }),
);

Deno.test("as its own process, the fake is driven through its HTTP control API", e2e, async () => {
  const fake = await spawnFakeWhatsApp();
  try {
    assert.equal(await postControl(fake, "pair", { qr: "x", phoneNumber: "not a number" }), 400);

    await withTempDir(async (dir) => {
      const { state, saveCreds, first } = await connectToSpawned(fake, dir);
      const { qr } = await first.waitFor((u) => Boolean(u.qr));
      await fake.client.pairWithQr(qr!, { phoneNumber: "15550003333" });
      assert.equal(await first.closeCode(), 515);
      const second = connect(fake.wsUrl, state, saveCreds);
      await second.waitFor((u) => u.connection === "open");
      assert.deepEqual((await fake.client.devices()).map((d) => d.online), [true]);
      await fake.client.addContact({ phoneNumber: "15550009999" });
      const texts: string[] = [];
      second.socket.ev.on("messages.upsert", ({ messages }) => {
        for (const m of messages) if (m.message?.conversation) texts.push(m.message.conversation);
      });
      await fake.client.deliverText({ from: "15550009999", to: "15550003333", text: "ping" });
      await second.socket.sendMessage("15550009999@s.whatsapp.net", { text: "pong" });
      await waitUntil(() => texts.includes("ping"));
      let received: { text: string }[] = [];
      await waitUntilAsync(async () => {
        received = await fake.client.receivedMessages({ to: "15550009999" });
        return received.length > 0;
      });
      assert.equal(received[0].text, "pong");
      await fake.client.removeDevice("15550003333");
      assert.equal(await second.closeCode(), 401);
    });
  } finally {
    await fake.stop();
  }
});

Deno.test(
  "texts go both ways with a simulated contact, and receipts update the status",
  e2e,
  () =>
    withFake(async (fake, dir) => {
      const { socket } = await pairFresh(fake, dir, "15550001111");
      const sock = socket.socket;
      try {
        fake.addContact({ phoneNumber: "15550009999", pushName: "Bob" });
        const upserts: { text: string; from: string }[] = [];
        const statuses: number[] = [];
        sock.ev.on("messages.upsert", ({ messages }) => {
          for (const m of messages) {
            if (m.key.fromMe) {
              if (typeof m.status === "number") statuses.push(m.status);
              continue;
            }
            const text = m.message?.conversation ?? m.message?.extendedTextMessage?.text;
            if (text) upserts.push({ text, from: m.key.remoteJid ?? "" });
          }
        });
        sock.ev.on("messages.update", (updates) => {
          for (const u of updates) {
            if (typeof u.update.status === "number") statuses.push(u.update.status);
          }
        });

        const sent = await sock.sendMessage("15550009999@s.whatsapp.net", { text: "hello Bob" });
        const got = await fake.waitForReceived((m) => m.id === sent!.key.id);
        assert.deepEqual([got.from, got.to, got.text], ["15550001111", "15550009999", "hello Bob"]);

        await fake.deliverText({ from: "15550009999", to: "15550001111", text: "hi Alice" });
        await fake.deliverText({ from: "15550009999", to: "15550001111", text: "second" });
        await waitUntil(() => upserts.length >= 2);
        assert.deepEqual(upserts.map((u) => u.text), ["hi Alice", "second"]);

        await fake.sendReceipt({
          from: "15550009999",
          to: "15550001111",
          ids: [sent!.key.id!],
          type: "read",
        });
        await waitUntil(() => statuses.includes(4));
      } finally {
        sock.end(undefined);
      }
    }),
);

Deno.test(
  "a fresh auth folder links with a pairing code typed on the phone; a wrong code is refused",
  e2e,
  () =>
    withFake(async (fake, dir) => {
      const { state, saveCreds } = await useMultiFileAuthState(dir);
      const first = connect(fake.wsUrl, state, saveCreds);
      await first.waitFor((u) => Boolean(u.qr)); // registering: a code may be asked for now
      const code = await first.socket.requestPairingCode("15550001111");
      assert.match(code, /^[A-Z0-9]{8}$/);
      const wrong = code.slice(0, 7) + (code.endsWith("A") ? "B" : "A");
      await assert.rejects(
        () => fake.pairWithCode(wrong, { phoneNumber: "15550001111" }),
        /wrong pairing code/,
      );

      // The failed attempt ended that companion's hello: it asks for a new code.
      const again = await first.socket.requestPairingCode("15550001111");
      await fake.pairWithCode(again, { phoneNumber: "15550001111", pushName: "Alice" });
      assert.equal(await first.closeCode(), 515);
      const second = connect(fake.wsUrl, state, saveCreds);
      try {
        await second.waitFor((u) => u.connection === "open");
        assertLinkedAlone(fake, state.creds.me!.id, "15550001111");
      } finally {
        second.socket.end(undefined);
      }
    }),
);

Deno.test(
  "as its own process, the fake takes a pairing code through its control API",
  e2e,
  async () => {
    const fake = await spawnFakeWhatsApp();
    try {
      const badCode = { code: "lowercase", phoneNumber: "15550003333" };
      assert.equal(await postControl(fake, "pair-code", badCode), 400);

      await withTempDir(async (dir) => {
        const { state, saveCreds, first } = await connectToSpawned(fake, dir);
        await first.waitFor((u) => Boolean(u.qr));
        const code = await first.socket.requestPairingCode("15550003333");
        await fake.client.pairWithCode(code, { phoneNumber: "15550003333" });
        assert.equal(await first.closeCode(), 515);
        const second = connect(fake.wsUrl, state, saveCreds);
        await second.waitFor((u) => u.connection === "open");
        assert.deepEqual((await fake.client.devices()).map((d) => d.online), [true]);
        second.socket.end(undefined);
      });
    } finally {
      await fake.stop();
    }
  },
);

Deno.test(
  "a second login of a device while the first is open is counted as an overlap",
  e2e,
  () =>
    withFake(async (fake, dir) => {
      const { state, saveCreds, socket } = await pairFresh(fake, dir, "15550001111");
      assert.deepEqual(fake.connectionOverlaps(), []);
      const second = connect(fake.wsUrl, state, saveCreds);
      try {
        assert.equal(await socket.closeCode(), 440);
        await second.waitFor((u) => u.connection === "open");
        const overlaps = fake.connectionOverlaps();
        assert.equal(overlaps.length, 1);
        assert.equal(overlaps[0].jid, "15550001111:1@s.whatsapp.net");
        assert.ok(overlaps[0].previousSilentMs >= 0);
      } finally {
        second.socket.end(undefined);
      }
    }),
);
