import { FakeWhatsAppClient } from "./client.ts";

/** A fake server running in a child process. */
export interface SpawnedFakeWhatsApp {
  wsUrl: string;
  controlUrl: string;
  rootPublicKeyBase64: string;
  client: FakeWhatsAppClient;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

/** Starts `main.ts` as a child process and waits for its address line. */
export async function spawnFakeWhatsApp(): Promise<SpawnedFakeWhatsApp> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--frozen", new URL("./main.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  while (!buffered.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("fake whatsapp process exited before printing its address");
    buffered += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  const address = JSON.parse(buffered.slice(0, buffered.indexOf("\n")));
  return {
    wsUrl: address.wsUrl,
    controlUrl: address.controlUrl,
    rootPublicKeyBase64: address.rootPublicKey,
    client: new FakeWhatsAppClient(address.controlUrl),
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
    },
  };
}
