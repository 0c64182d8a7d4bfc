import { strict as assert } from "node:assert";
import { useMultiFileAuthState } from "@whiskeysockets/baileys";
import { EncryptionKeyError, PersistenceError } from "../../src/domain/errors.ts";
import { type SessionId, SessionIdSchema } from "../../src/domain/session_id.ts";
import {
  createAesGcmCodec,
  isEncryptedAuthFile,
} from "../../src/persistence/encrypted_auth_file.ts";
import { encodeJournalRecord } from "../../src/persistence/auth_journal_record.ts";
import { FileSessionStore } from "../../src/persistence/file_session_store.ts";
import { openAuthState } from "../../src/whatsapp/auth_state.ts";
import { testLogger } from "../support/logger.ts";
import { filesBelow, snapshotTree, withTempDir } from "../support/temp_dir.ts";
import { singleOwnerFence } from "../../src/domain/fence.ts";

const logger = testLogger();
const KEY = new Uint8Array(32).map((_, i) => i + 1);
const OTHER_KEY = new Uint8Array(32).map((_, i) => 200 - i);
const id = (value: string): SessionId => SessionIdSchema.parse(value);
const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

async function openStore(dataDir: string, key?: Uint8Array): Promise<FileSessionStore> {
  const codec = key ? await createAesGcmCodec(key) : undefined;
  const store = new FileSessionStore({ dataDir, logger, codec });
  await store.open();
  return store;
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** Links a session with real Baileys credentials and one key file; returns its private keys. */
async function writeRealCreds(store: FileSessionStore, sessionId: string): Promise<Uint8Array[]> {
  const auth = await openAuthState(store.auth(singleOwnerFence(id(sessionId))), { logger });
  // What pair-success leaves: the account's identity, and who we are.
  auth.state.creds.me = { id: "15550001111:1@s.whatsapp.net", name: "Shop" };
  auth.state.creds.account = {
    details: new Uint8Array([1, 2, 3]),
    accountSignatureKey: new Uint8Array(32).fill(7),
    accountSignature: new Uint8Array(64).fill(8),
    deviceSignature: new Uint8Array(64).fill(9),
  };
  await auth.saveCreds();
  const preKey = {
    public: new Uint8Array(32).fill(3),
    private: crypto.getRandomValues(new Uint8Array(32)),
  };
  await auth.state.keys.set({ "pre-key": { "1": preKey } });
  await auth.close();
  const creds = auth.state.creds;
  return [
    creds.noiseKey.private,
    creds.signedIdentityKey.private,
    creds.signedPreKey.keyPair.private,
    preKey.private,
  ].map((key) => new Uint8Array(key));
}

Deno.test("after a clean close, encrypted auth files hold no plaintext key material", async () => {
  await withTempDir(async (dir) => {
    const store = await openStore(dir, KEY);
    const secrets = await writeRealCreds(store, "shop-1");
    await store.close();

    const files = await filesBelow(dir);
    const authFiles = [...files.keys()].filter((path) => path.startsWith("shop-1/"));
    assert.deepEqual(authFiles.sort(), ["shop-1/creds.json", "shop-1/pre-key-1.json"]);
    const text = new TextEncoder();
    for (const [path, data] of files) {
      if (path.startsWith("shop-1/")) assert.ok(isEncryptedAuthFile(data), `${path} is plaintext`);
      for (const marker of ["noiseKey", "signedIdentityKey", "private", "advSecretKey"]) {
        assert.ok(!contains(data, text.encode(marker)), `${path} contains "${marker}"`);
      }
      for (const secret of secrets) {
        assert.ok(!contains(data, secret), `${path} contains a raw private key`);
        assert.ok(!contains(data, text.encode(base64(secret))), `${path} contains a private key`);
      }
    }
  });
});

Deno.test("a restart with the right key restores the session and its credentials", async () => {
  await withTempDir(async (dir) => {
    const first = await openStore(dir, KEY);
    const [noisePrivate] = await writeRealCreds(first, "shop-1");
    await first.close();

    const second = await openStore(dir, KEY);
    try {
      assert.deepEqual(await second.listAuth(), ["shop-1"]);
      const auth = await openAuthState(second.auth(singleOwnerFence(id("shop-1"))), { logger });
      assert.equal(auth.linked, true);
      assert.deepEqual(new Uint8Array(auth.state.creds.noiseKey.private), noisePrivate);
      const keys = await auth.state.keys.get("pre-key", ["1"]);
      assert.equal(keys["1"]?.public.length, 32);
      await auth.close();
    } finally {
      await second.close();
    }
  });
});

/**
 * What a crash leaves besides the files: a journal of writes not yet in the files (under the
 * key, in shop-1, and in shop-2, whose credentials exist only there), a half-written file in
 * the data directory and in a session folder, and a deleted folder not yet removed.
 */
async function leaveCrashLeftovers(dir: string, key: Uint8Array): Promise<void> {
  const codec = await createAesGcmCodec(key);
  const journal = async (sessionId: string, name: string) =>
    encodeJournalRecord(
      new Map([[
        name,
        await codec.encode(new TextEncoder().encode(`{"${name}":1}`), { sessionId, name }),
      ]]),
    );
  await Deno.writeFile(`${dir}/shop-1/.journal`, await journal("shop-1", "pre-key-9.json"));
  await Deno.mkdir(`${dir}/shop-2`, { mode: 0o700 });
  await Deno.writeFile(`${dir}/shop-2/.journal`, await journal("shop-2", "creds.json"));
  await Deno.writeTextFile(`${dir}/.tmp-0000`, "half a metadata file");
  await Deno.writeTextFile(`${dir}/shop-1/.tmp-1111`, "half an auth file");
  await Deno.mkdir(`${dir}/.trash-2222`);
  await Deno.writeTextFile(`${dir}/.trash-2222/creds.json`, "{}");
}

/** Opens with the right key: the journals are replayed, nothing they held is lost. */
async function assertJournalsKept(dir: string): Promise<void> {
  const store = await openStore(dir, KEY);
  try {
    assert.deepEqual(await store.listAuth(), ["shop-1", "shop-2"]);
    const read = async (session: string, name: string) =>
      new TextDecoder().decode(await store.auth(singleOwnerFence(id(session))).read(name));
    assert.equal(await read("shop-1", "pre-key-9.json"), '{"pre-key-9.json":1}');
    assert.equal(await read("shop-2", "creds.json"), '{"creds.json":1}');
  } finally {
    await store.close();
  }
}

Deno.test("a wrong key fails at startup, names the problem, and changes no file, not even a crash's leftovers", async () => {
  await withTempDir(async (dir) => {
    const store = await openStore(dir, KEY);
    await writeRealCreds(store, "shop-1");
    await store.close();
    await leaveCrashLeftovers(dir, KEY);
    const before = await snapshotTree(dir);

    await assert.rejects(
      () => openStore(dir, OTHER_KEY),
      (error: unknown) =>
        error instanceof EncryptionKeyError && error.code === "encryption_key_mismatch",
    );
    assert.deepEqual(await snapshotTree(dir), before);

    // Without the key check file (say, restored from an older backup) each session is checked,
    // the one whose credentials are only in its journal too.
    await Deno.remove(`${dir}/.encryption-key-check`);
    const withoutCheck = await snapshotTree(dir);
    await assert.rejects(
      () => openStore(dir, OTHER_KEY),
      (error: unknown) =>
        error instanceof EncryptionKeyError && error.code === "encryption_key_mismatch" &&
        error.message.includes("shop-1") && error.message.includes("shop-2"),
    );
    assert.deepEqual(await snapshotTree(dir), withoutCheck);

    // The failed opens released the lock: the right key still works, and replays the journals.
    await assertJournalsKept(dir);
  });
});

Deno.test("encrypted files without a key are a startup error, never garbage, and change no file", async () => {
  await withTempDir(async (dir) => {
    const store = await openStore(dir, KEY);
    await writeRealCreds(store, "shop-1");
    await store.close();
    await leaveCrashLeftovers(dir, KEY);
    const before = await snapshotTree(dir);

    const required = (error: unknown) =>
      error instanceof EncryptionKeyError && error.code === "encryption_key_required";
    await assert.rejects(() => openStore(dir), required);
    assert.deepEqual(await snapshotTree(dir), before);

    await Deno.remove(`${dir}/.encryption-key-check`);
    const withoutCheck = await snapshotTree(dir);
    await assert.rejects(() => openStore(dir), required);
    assert.deepEqual(await snapshotTree(dir), withoutCheck);
    await assertJournalsKept(dir);
  });
});

Deno.test("turning encryption on migrates a plaintext Baileys folder, byte for byte", async () => {
  await withTempDir(async (dir) => {
    const baileys = await useMultiFileAuthState(`${dir}/shop-1`);
    await baileys.saveCreds();
    await baileys.state.keys.set({
      "pre-key": {
        "7": { public: new Uint8Array(32).fill(1), private: new Uint8Array(32).fill(9) },
      },
    });
    const original = await filesBelow(`${dir}/shop-1`);

    const store = await openStore(dir, KEY);
    try {
      const stored = await filesBelow(`${dir}/shop-1`);
      assert.deepEqual([...stored.keys()].sort(), [...original.keys()].sort());
      for (const [name, data] of stored) {
        assert.ok(isEncryptedAuthFile(data), `${name} was not encrypted`);
        assert.deepEqual(
          await store.auth(singleOwnerFence(id("shop-1"))).read(name),
          original.get(name),
          name,
        );
      }
      assert.ok(isEncryptedAuthFile(await Deno.readFile(`${dir}/.encryption-key-check`)));
    } finally {
      await store.close();
    }

    // A second open finds nothing to migrate and rewrites nothing.
    const migrated = await snapshotTree(`${dir}/shop-1`);
    const again = await openStore(dir, KEY);
    await again.close();
    assert.deepEqual(await snapshotTree(`${dir}/shop-1`), migrated);
  });
});

Deno.test("a migration cut short is finished on the next open", async () => {
  await withTempDir(async (dir) => {
    const codec = await createAesGcmCodec(KEY);
    await Deno.mkdir(`${dir}/shop-1`, { recursive: true });
    const plain = new TextEncoder().encode('{"public":"AA==","private":"AQ=="}');
    // As a crash leaves it: some key files encrypted, creds.json (written last) still plaintext.
    await Deno.writeFile(
      `${dir}/shop-1/pre-key-1.json`,
      await codec.encode(plain, { sessionId: "shop-1", name: "pre-key-1.json" }),
    );
    await Deno.writeFile(`${dir}/shop-1/pre-key-2.json`, plain);
    await Deno.writeTextFile(`${dir}/shop-1/creds.json`, '{"registrationId":1}');

    const store = await openStore(dir, KEY);
    try {
      for (const [name, data] of await filesBelow(`${dir}/shop-1`)) {
        assert.ok(isEncryptedAuthFile(data), `${name} is still plaintext`);
      }
      assert.deepEqual(
        await store.auth(singleOwnerFence(id("shop-1"))).read("pre-key-1.json"),
        plain,
      );
      assert.deepEqual(
        await store.auth(singleOwnerFence(id("shop-1"))).read("pre-key-2.json"),
        plain,
      );
    } finally {
      await store.close();
    }
  });
});

Deno.test("an encrypted file moved to another session, renamed or altered does not decrypt", async () => {
  const codec = await createAesGcmCodec(KEY);
  const data = new TextEncoder().encode('{"registrationId":1}');
  const sealed = await codec.encode(data, { sessionId: "shop-1", name: "creds.json" });
  assert.deepEqual(await codec.decode(sealed, { sessionId: "shop-1", name: "creds.json" }), data);
  await assert.rejects(
    () => codec.decode(sealed, { sessionId: "shop-2", name: "creds.json" }),
    PersistenceError,
  );
  await assert.rejects(
    () => codec.decode(sealed, { sessionId: "shop-1", name: "pre-key-1.json" }),
    PersistenceError,
  );
  for (const offset of [7, 8, 20, sealed.length - 1]) {
    const altered = sealed.slice();
    altered[offset] ^= 1;
    await assert.rejects(
      () => codec.decode(altered, { sessionId: "shop-1", name: "creds.json" }),
      PersistenceError,
      `a flipped bit at ${offset}`,
    );
  }
  const other = await createAesGcmCodec(OTHER_KEY);
  await assert.rejects(
    () => other.decode(sealed, { sessionId: "shop-1", name: "creds.json" }),
    PersistenceError,
  );
  // Two encryptions of the same file differ (fresh nonce each time).
  const again = await codec.encode(data, { sessionId: "shop-1", name: "creds.json" });
  assert.notDeepEqual(again, sealed);
});

Deno.test("a session folder copied in from another session fails the startup check", async () => {
  await withTempDir(async (dir) => {
    const store = await openStore(dir, KEY);
    await writeRealCreds(store, "shop-1");
    await store.close();
    await Deno.mkdir(`${dir}/shop-2`, { mode: 0o700 });
    await Deno.copyFile(`${dir}/shop-1/creds.json`, `${dir}/shop-2/creds.json`);
    const before = await snapshotTree(dir);
    await assert.rejects(
      () => openStore(dir, KEY),
      (error: unknown) =>
        error instanceof EncryptionKeyError && /shop-2/.test(error.message) &&
        !/shop-1/.test(error.message),
    );
    assert.deepEqual(await snapshotTree(dir), before);
  });
});

Deno.test("the data directory is 0700, session folders 0700, and every file 0600", async () => {
  await withTempDir(async (root) => {
    const dir = `${root}/data`;
    await Deno.mkdir(dir, { mode: 0o755 });
    await Deno.chmod(dir, 0o755);
    const store = await openStore(dir, KEY);
    await writeRealCreds(store, "shop-1");
    await store.create({
      id: id("shop-1"),
      name: null,
      status: "connected",
      desiredState: "running",
      phoneNumber: null,
      pushName: null,
      createdAt: new Date().toISOString(),
      connectedAt: null,
      lastDisconnectedAt: null,
      lastDisconnect: null,
    });
    await store.close();

    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
    const walk = async (path: string) => {
      for await (const entry of Deno.readDir(path)) {
        const info = await Deno.lstat(`${path}/${entry.name}`);
        const mode = info.mode! & 0o777;
        if (info.isDirectory) {
          assert.equal(mode, 0o700, `${entry.name} is ${mode.toString(8)}`);
          await walk(`${path}/${entry.name}`);
        } else {
          assert.equal(mode, 0o600, `${entry.name} is ${mode.toString(8)}`);
        }
      }
    };
    await walk(dir);
    const names = [...(await filesBelow(dir)).keys()].sort();
    assert.deepEqual(names, [
      ".closed-cleanly",
      ".encryption-key-check",
      ".lock",
      "sessions-metadata.json",
      "shop-1/creds.json",
      "shop-1/pre-key-1.json",
    ]);
  });
});
