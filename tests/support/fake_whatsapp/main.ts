/**
 * The fake WhatsApp server as its own process. Prints one JSON line on stdout,
 * `{"wsUrl", "controlUrl", "rootPublicKey"}` (the key in base64), then serves until SIGTERM/SIGINT.
 *
 * Usage: deno run -A tests/support/fake_whatsapp/main.ts
 */
import { startFakeWhatsApp } from "./server.ts";

const fake = await startFakeWhatsApp();
console.log(JSON.stringify({
  wsUrl: fake.wsUrl,
  controlUrl: fake.controlUrl,
  rootPublicKey: fake.rootPublicKeyBase64,
}));
const stop = async () => {
  await fake.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
