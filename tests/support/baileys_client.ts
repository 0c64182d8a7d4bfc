/**
 * Plain Baileys sockets (no gateway code) against the fake WhatsApp server: connecting, pairing a
 * fresh auth folder, and waiting for what they report.
 */
import makeWASocket, {
  type AuthenticationState,
  type ConnectionState,
  useMultiFileAuthState,
} from "@whiskeysockets/baileys";
import { strict as assert } from "node:assert";
import pino from "pino";
import { withFakeServer } from "./fake_gateway.ts";
import { type FakeWhatsApp, trustFakeMedia, trustFakeRoot } from "./fake_whatsapp/server.ts";

type Socket = ReturnType<typeof makeWASocket>;

/** A Baileys socket and a way to wait for its connection updates. */
export function connect(wsUrl: string, auth: AuthenticationState, saveCreds: () => Promise<void>) {
  const socket: Socket = makeWASocket({
    auth,
    waWebSocketUrl: wsUrl,
    logger: pino({ level: "silent" }),
    markOnlineOnConnect: false,
    syncFullHistory: false,
    shouldSyncHistoryMessage: () => false,
  });
  const updates: Partial<ConnectionState>[] = [];
  const waiters: (() => void)[] = [];
  socket.ev.on("creds.update", () => void saveCreds());
  socket.ev.on("connection.update", (update) => {
    updates.push(update);
    for (const wake of waiters.splice(0)) wake();
  });
  const waitFor = async (predicate: (u: Partial<ConnectionState>) => boolean, ms = 10_000) => {
    const deadline = Date.now() + ms;
    for (let seen = 0;;) {
      for (; seen < updates.length; seen++) if (predicate(updates[seen])) return updates[seen];
      if (Date.now() > deadline) throw new Error(`no such update; got ${JSON.stringify(updates)}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  };
  const closeCode = async () => {
    const update = await waitFor((u) => u.connection === "close");
    return (update.lastDisconnect?.error as { output?: { statusCode?: number } })?.output
      ?.statusCode;
  };
  return { socket, updates, waitFor, closeCode };
}

/** Runs `fn` with a fresh fake server that this process trusts (root key and media CA). */
export function withFake(fn: (fake: FakeWhatsApp, dir: string) => Promise<void>) {
  return withFakeServer((fake, dir) => {
    trustFakeRoot(fake.rootPublicKey);
    trustFakeMedia(fake.media);
    return fn(fake, dir);
  });
}

/** Pairs a fresh auth folder and returns it logged in (open). */
export async function pairFresh(fake: FakeWhatsApp, dir: string, phoneNumber: string) {
  const { state, saveCreds } = await useMultiFileAuthState(dir);
  const first = connect(fake.wsUrl, state, saveCreds);
  const { qr } = await first.waitFor((u) => Boolean(u.qr));
  await fake.pairWithQr(qr!, { phoneNumber, pushName: "Alice" });
  assert.equal(await first.closeCode(), 515);
  const second = connect(fake.wsUrl, state, saveCreds);
  await second.waitFor((u) => u.connection === "open");
  await saveCreds();
  return { state, saveCreds, socket: second };
}

/** Polls `condition` every 20 ms until it holds; throws after `timeoutMs`. */
export async function waitUntil(condition: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** `waitUntil` for an async condition. */
export async function waitUntilAsync(condition: () => Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
