/**
 * With an encryption key, no key material is ever on disk in clear: not while a linked gateway
 * runs and writes keys (the auth journal and the files being replaced included), and not in
 * what a SIGKILL leaves (a journal not yet checkpointed). `encryption_at_rest_test.ts` checks
 * the files a clean close leaves.
 */
import { singleOwnerFence } from "../../src/domain/fence.ts";
import { strict as assert } from "node:assert";
import { SessionIdSchema } from "../../src/domain/session_id.ts";
import { createAesGcmCodec } from "../../src/persistence/encrypted_auth_file.ts";
import { FileSessionStore } from "../../src/persistence/file_session_store.ts";
import { withLinkedGateway } from "../support/linked_gateway.ts";
import { testLogger } from "../support/logger.ts";
import { filesBelow } from "../support/temp_dir.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const ACCOUNT = "15550001111";
const CONTACT = "15550009999";
const KEY = new Uint8Array(32).fill(42);
const latin1 = new TextDecoder("latin1");

/** Every regular file below `dir`, as latin1 text (every byte one character). */
async function scan(dir: string): Promise<Map<string, string>> {
  const files = await filesBelow(dir);
  return new Map([...files].map(([path, bytes]) => [path, latin1.decode(bytes)]));
}

const hasJournal = (files: Map<string, string>) =>
  [...files.keys()].some((path) => path.endsWith("/.journal"));

/**
 * Key material of the session, read with the key: every key in `creds.json`, the Signal
 * sessions' keys and a sample of the pre-keys, each as raw bytes and as the base64 Baileys
 * writes (both in latin1, to search the scans).
 */
async function keyMaterial(dataDir: string): Promise<string[]> {
  const store = new FileSessionStore({
    dataDir,
    logger: testLogger(),
    codec: await createAesGcmCodec(KEY),
  });
  await store.open();
  const needles: string[] = [];
  try {
    const auth = store.auth(singleOwnerFence(SessionIdSchema.parse("shop-1")));
    const names = (await auth.list()).filter((name) =>
      name === "creds.json" || name.startsWith("session-") || /^pre-key-\d?\d\.json$/.test(name)
    );
    for (const name of names) {
      const text = new TextDecoder().decode(await auth.read(name));
      // Baileys writes each buffer as {"type":"Buffer","data":"<base64>"}; keys are 32 bytes.
      for (const [, base64] of text.matchAll(/"data":"([A-Za-z0-9+/=]{43,})"/g)) {
        needles.push(base64, latin1.decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))));
      }
      for (
        const [, base64] of text.matchAll(/"(?:privKey|advSecretKey)":"([A-Za-z0-9+/=]{43,})"/g)
      ) {
        needles.push(base64);
      }
    }
  } finally {
    await store.close();
  }
  return needles;
}

function assertNothingInClear(files: Map<string, string>, needles: string[], when: string) {
  for (const [path, text] of files) {
    for (
      const marker of ["noiseKey", "signedIdentityKey", "private", "advSecretKey", "_sessions"]
    ) {
      assert.ok(!text.includes(marker), `${when}: ${path} contains "${marker}"`);
    }
    for (const needle of needles) {
      assert.ok(!text.includes(needle), `${when}: ${path} contains key material`);
    }
  }
}

Deno.test(
  "with a key, no key material is on disk in clear while the gateway runs, journals included, nor after a SIGKILL",
  e2e,
  async () => {
    await withLinkedGateway("shop-1", ACCOUNT, async ({ fake, gateway, client, dataDir }) => {
      fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
      // Texts both ways: every one writes Signal keys, through the journal.
      const running: Map<string, string>[] = [];
      const exchange = async (i: number) => {
        const sent = await client.json("POST", "/api/sessions/shop-1/messages", {
          to: CONTACT,
          type: "text",
          text: `out ${i}`,
        });
        assert.equal(sent.status, 201);
        await fake.deliverText({ from: CONTACT, to: ACCOUNT, text: `in ${i}` });
      };
      for (let i = 0; i < 6; i++) {
        await exchange(i);
        running.push(await scan(dataDir));
      }
      assert.ok(running.some(hasJournal), "a scan while the gateway ran saw a journal");
      await exchange(6);
      gateway.kill("SIGKILL");
      await gateway.exited;
      const killed = await scan(dataDir);
      assert.ok(hasJournal(killed), "the SIGKILL left a journal");

      const needles = await keyMaterial(dataDir);
      assert.ok(needles.length > 20, `only ${needles.length} keys to look for`);
      for (const [i, files] of running.entries()) {
        assertNothingInClear(files, needles, `scan ${i} while running`);
      }
      assertNothingInClear(killed, needles, "after the SIGKILL");
    }, { env: { SESSIONS_ENCRYPTION_KEY: btoa(String.fromCharCode(...KEY)) } });
  },
);
