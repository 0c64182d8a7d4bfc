/**
 * A separate OS process that logs in with a saved auth folder (AUTH_DIR) against a fake server
 * (WA_WS_URL, WA_TEST_ROOT_PUBKEY), prints the connection updates as JSON lines, and exits 0 once
 * the connection is open (1 if it closes first, 2 after 15 s).
 */
import makeWASocket, { useMultiFileAuthState, WA_CERT_DETAILS } from "@whiskeysockets/baileys";
import pino from "pino";

const env = (name: string) =>
  Deno.env.get(name) ?? (() => {
    throw new Error(`${name} is not set`);
  })();
WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(env("WA_TEST_ROOT_PUBKEY"), "base64");
const { state, saveCreds } = await useMultiFileAuthState(env("AUTH_DIR"));
const socket = makeWASocket({
  auth: state,
  waWebSocketUrl: env("WA_WS_URL"),
  logger: pino({ level: "silent" }),
  markOnlineOnConnect: false,
});
socket.ev.on("creds.update", saveCreds);
setTimeout(() => Deno.exit(2), 15_000);
socket.ev.on("connection.update", (update) => {
  console.log(JSON.stringify({ connection: update.connection, qr: Boolean(update.qr) }));
  if (update.connection === "open") {
    socket.end(undefined);
    Deno.exit(0);
  }
  if (update.connection === "close") Deno.exit(1);
});
