import { strict as assert } from "node:assert";
import { Buffer } from "node:buffer";
import { proto, useMultiFileAuthState } from "@whiskeysockets/baileys";
import type { AuthFiles } from "../../../src/domain/session_store.ts";
import { FileSessionStore } from "../../../src/persistence/file_session_store.ts";
import { createAesGcmCodec } from "../../../src/persistence/encrypted_auth_file.ts";
import { SessionIdSchema } from "../../../src/domain/session_id.ts";
import {
  CredentialsUnreadableError,
  keyFileName,
  openAuthState,
} from "../../../src/whatsapp/auth_state.ts";
import { testLogger } from "../../support/logger.ts";
import { withTempDir } from "../../support/temp_dir.ts";
import { singleOwnerFence } from "../../../src/domain/fence.ts";
import { InsufficientStorageError } from "../../../src/domain/errors.ts";
import { FullDiskStore } from "../../../src/storage/full_disk_store.ts";
import { NoSpaceInjector } from "../../support/no_space_injector.ts";

const logger = testLogger();
const ID = SessionIdSchema.parse("s1");

async function withStore(fn: (store: FileSessionStore, dir: string) => Promise<void>) {
  await withTempDir(async (dir) => {
    const store = new FileSessionStore({ dataDir: dir, logger });
    await store.open();
    try {
      await fn(store, dir);
    } finally {
      await store.close();
    }
  });
}

/** The real auth files, telling `onWrite` about every write before it is made. */
function watchingWrites(
  real: AuthFiles,
  onWrite: (changes: ReadonlyMap<string, Uint8Array | null>) => void,
): AuthFiles {
  return {
    exists: () => real.exists(),
    read: (name) => real.read(name),
    list: () => real.list(),
    delete: () => real.delete(),
    write: (changes) => {
      onWrite(changes);
      return real.write(changes);
    },
  };
}

Deno.test("keyFileName() matches Baileys' multi-file layout", () => {
  assert.equal(keyFileName("pre-key", "12"), "pre-key-12.json");
  assert.equal(keyFileName("session", "15550001111:1"), "session-15550001111-1.json");
  assert.equal(keyFileName("sender-key", "g@g.us/a:1"), "sender-key-g@g.us__a-1.json");
});

Deno.test("openAuthState() writes fresh credentials at once and reloads them", async () => {
  await withStore(async (store, dir) => {
    const first = await openAuthState(store.auth(singleOwnerFence(ID)), { logger });
    assert.equal(first.linked, false);
    await store.flush(); // checkpoints the journal into Baileys' plain files
    const onDisk = JSON.parse(await Deno.readTextFile(`${dir}/s1/creds.json`));
    assert.equal(onDisk.registrationId, first.state.creds.registrationId);
    await first.close();

    const second = await openAuthState(store.auth(singleOwnerFence(ID)), { logger });
    assert.deepEqual(
      Buffer.from(second.state.creds.noiseKey.public),
      Buffer.from(first.state.creds.noiseKey.public),
    );
    await second.close();
  });
});

Deno.test("keys set are durable when set() resolves and read back from disk", async () => {
  await withStore(async (store, dir) => {
    const auth = await openAuthState(store.auth(singleOwnerFence(ID)), { logger });
    const pub = new Uint8Array(32).fill(7);
    const priv = new Uint8Array(32).fill(9);
    await auth.state.keys.set({
      "pre-key": { "1": { public: pub, private: priv } },
      session: { "15550001111:1": new Uint8Array([1, 2, 3]) },
    });
    await store.flush();
    assert.ok((await Deno.stat(`${dir}/s1/pre-key-1.json`)).isFile);
    assert.ok((await Deno.stat(`${dir}/s1/session-15550001111-1.json`)).isFile);

    const reopened = await openAuthState(store.auth(singleOwnerFence(ID)), { logger });
    const keys = await reopened.state.keys.get("pre-key", ["1", "2"]);
    assert.deepEqual(Buffer.from(keys["1"].public), Buffer.from(pub));
    assert.equal(keys["2"], undefined);
    const sessions = await reopened.state.keys.get("session", ["15550001111:1"]);
    assert.deepEqual([...sessions["15550001111:1"]], [1, 2, 3]);
  });
});

Deno.test("a Signal session as Baileys stores it, a record object, reads back after a reopen", async () => {
  await withStore(async (store) => {
    // What libsignal's SessionRecord.serialize() gives Baileys to store (shortened).
    const record = {
      _sessions: {
        BSKK: {
          registrationId: 109,
          currentRatchet: {
            ephemeralKeyPair: { pubKey: Buffer.from([5, 1]), privKey: Buffer.from([2, 3]) },
            previousCounter: 0,
          },
          indexInfo: { baseKey: Buffer.from([5, 9]), baseKeyType: 2, closed: -1, used: 1 },
          _chains: {},
        },
      },
      version: "v1",
    };
    const auth = await openAuthState(store.auth(singleOwnerFence(ID)), { logger });
    // deno-lint-ignore no-explicit-any
    await auth.state.keys.set({ session: { "100000000000002_1.0": record as any } });
    await auth.close();

    const reopened = await openAuthState(store.auth(singleOwnerFence(ID)), { logger });
    const read = await reopened.state.keys.get("session", ["100000000000002_1.0"]);
    assert.deepEqual(read["100000000000002_1.0"], record);
    await reopened.close();
  });
});

Deno.test("setting a key to null deletes its file", async () => {
  await withStore(async (store, dir) => {
    const auth = await openAuthState(store.auth(singleOwnerFence(ID)), { logger });
    await auth.state.keys.set({
      "pre-key": { "5": { public: new Uint8Array(32), private: new Uint8Array(32) } },
    });
    await auth.state.keys.set({ "pre-key": { "5": null } });
    await store.flush(); // the files catch up with the journal in the background until then
    await assert.rejects(Deno.stat(`${dir}/s1/pre-key-5.json`), Deno.errors.NotFound);
    assert.equal((await auth.state.keys.get("pre-key", ["5"]))["5"], undefined);
  });
});

Deno.test("a folder written by Baileys' useMultiFileAuthState loads unchanged", async () => {
  await withStore(async (store, dir) => {
    const baileys = await useMultiFileAuthState(`${dir}/s1`);
    await baileys.saveCreds();
    await baileys.state.keys.set({
      "pre-key": {
        "3": { public: new Uint8Array(32).fill(1), private: new Uint8Array(32).fill(2) },
      },
      "app-state-sync-key": {
        AAAA: proto.Message.AppStateSyncKeyData.fromObject({
          keyData: new Uint8Array([5, 6]),
          timestamp: 1,
        }),
      },
    });

    const ours = await openAuthState(store.auth(singleOwnerFence(ID)), { logger });
    assert.equal(ours.state.creds.registrationId, baileys.state.creds.registrationId);
    assert.equal(ours.state.creds.advSecretKey, baileys.state.creds.advSecretKey);
    const preKeys = await ours.state.keys.get("pre-key", ["3"]);
    assert.deepEqual([...preKeys["3"].private], new Array(32).fill(2));
    const syncKeys = await ours.state.keys.get("app-state-sync-key", ["AAAA"]);
    assert.ok(syncKeys["AAAA"] instanceof proto.Message.AppStateSyncKeyData);
    assert.deepEqual([...syncKeys["AAAA"].keyData!], [5, 6]);
  });
});

Deno.test("unreadable creds.json fails loudly and is left untouched", async () => {
  await withStore(async (store, dir) => {
    await Deno.mkdir(`${dir}/s1`);
    await Deno.writeTextFile(`${dir}/s1/creds.json`, '{"noiseKey": {"pub');
    await assert.rejects(
      openAuthState(store.auth(singleOwnerFence(ID)), { logger }),
      CredentialsUnreadableError,
    );
    assert.equal(await Deno.readTextFile(`${dir}/s1/creds.json`), '{"noiseKey": {"pub');

    await Deno.writeTextFile(`${dir}/s1/creds.json`, '{"registrationId": 5}');
    await assert.rejects(
      openAuthState(store.auth(singleOwnerFence(ID)), { logger }),
      (error: Error) =>
        error instanceof CredentialsUnreadableError && /noiseKey/.test(error.message),
    );
  });
});

Deno.test("an unreadable key file reads as missing", async () => {
  await withStore(async (store, dir) => {
    const auth = await openAuthState(store.auth(singleOwnerFence(ID)), { logger });
    await Deno.writeTextFile(`${dir}/s1/pre-key-9.json`, '{"public": ');
    assert.deepEqual(await auth.state.keys.get("pre-key", ["9"]), {});
  });
});

Deno.test("a key file that fails to decrypt (tampered) reads as missing", async () => {
  await withTempDir(async (dir) => {
    const codec = await createAesGcmCodec(crypto.getRandomValues(new Uint8Array(32)));
    const store = new FileSessionStore({ dataDir: dir, logger, codec });
    await store.open();
    try {
      const auth = await openAuthState(store.auth(singleOwnerFence(ID)), { logger });
      await auth.state.keys.set({
        "pre-key": { "9": { public: new Uint8Array(32), private: new Uint8Array(32) } },
      });
      await auth.close();
      await store.flush(); // checkpoints the journal into the files
      const path = `${dir}/s1/pre-key-9.json`;
      const bytes = await Deno.readFile(path);
      bytes[bytes.length - 1] ^= 0xff;
      await Deno.writeFile(path, bytes);
      const reopened = await openAuthState(store.auth(singleOwnerFence(ID)), { logger });
      assert.deepEqual(await reopened.state.keys.get("pre-key", ["9"]), {});
    } finally {
      await store.close();
    }
  });
});

Deno.test("after close(), writes are ignored so a deleted folder stays deleted", async () => {
  await withStore(async (store, dir) => {
    const files = store.auth(singleOwnerFence(ID));
    const auth = await openAuthState(files, { logger });
    await auth.close();
    await files.delete();
    await auth.state.keys.set({ session: { "1": new Uint8Array([1]) } });
    await auth.saveCreds();
    await assert.rejects(Deno.stat(`${dir}/s1`), Deno.errors.NotFound);
  });
});

Deno.test("key writes that arrive during a write are batched together", async () => {
  await withStore(async (store) => {
    const real = store.auth(singleOwnerFence(ID));
    let batches = 0;
    const counting = watchingWrites(real, () => batches++);
    const auth = await openAuthState(counting, { logger });
    batches = 0;
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        auth.state.keys.set({
          "pre-key": { [String(i)]: { public: new Uint8Array(32), private: new Uint8Array(32) } },
        })),
    );
    assert.ok(batches <= 3, `expected at most 3 batches, got ${batches}`);
    assert.equal((await real.list()).filter((n) => n.startsWith("pre-key-")).length, 200);
  });
});

Deno.test("saving unchanged credentials writes nothing; changed ones are written and durable", async () => {
  await withStore(async (store, dir) => {
    const real = store.auth(singleOwnerFence(ID));
    const written: string[][] = [];
    const counting = watchingWrites(real, (changes) => written.push([...changes.keys()]));
    await (await openAuthState(counting, { logger })).close();
    // A login: Baileys saves the credentials it loaded, unchanged, twice.
    const reopened = await openAuthState(counting, { logger });
    written.length = 0;
    await reopened.saveCreds();
    await reopened.saveCreds();
    assert.equal(written.length, 0, "unchanged credentials are not written again");

    Object.assign(reopened.state.creds, { lastPropHash: "changed" }); // as creds.update does
    await Promise.all([reopened.saveCreds(), reopened.saveCreds()]);
    assert.ok(written.length >= 1 && written.every((names) => names.join() === "creds.json"));
    await store.flush();
    assert.equal(
      JSON.parse(await Deno.readTextFile(`${dir}/s1/creds.json`)).lastPropHash,
      "changed",
    );
    written.length = 0;
    await reopened.saveCreds(); // the same as what is now on disk
    assert.equal(written.length, 0);
    await reopened.close();
  });
});

Deno.test("a key set while a read of it is on disk is never overwritten by the older read", async () => {
  await withStore(async (store) => {
    const files = store.auth(singleOwnerFence(ID));
    // Reads wait at a gate, so that a set can land while one is in flight.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const gated: AuthFiles = {
      ...files,
      exists: () => files.exists(),
      list: () => files.list(),
      delete: () => files.delete(),
      write: (changes) => files.write(changes),
      read: async (name) => {
        const data = await files.read(name);
        if (name !== "creds.json") await gate;
        return data;
      },
    };
    const auth = await openAuthState(gated, { logger });
    const session = new Uint8Array([7, 7, 7]);

    const before = auth.state.keys.get("session", ["15550009999.0"]); // reads "no such file"
    await auth.state.keys.set({ session: { "15550009999.0": session } });
    openGate();
    // The read began before the set: either answer is fine for it, but it must not win later.
    await before;
    const after = await auth.state.keys.get("session", ["15550009999.0"]);
    assert.deepEqual([...(after["15550009999.0"] ?? [])], [...session]);
    await auth.close();
  });
});

Deno.test("a link begun with a pairing code is not linked until pair-success, and can be discarded", async () => {
  await withStore(async (store) => {
    const auth = await openAuthState(store.auth(singleOwnerFence(ID)), { logger });
    // What Baileys' requestPairingCode leaves behind.
    auth.state.creds.me = { id: "15550001111@s.whatsapp.net", name: "~" };
    auth.state.creds.pairingCode = "ABCD1234";
    assert.equal(auth.linked, false);
    auth.discardUnfinishedLink();
    assert.equal(auth.state.creds.me, undefined);
    assert.equal(auth.state.creds.pairingCode, undefined);

    // After pair-success the account is there: a link, never discarded.
    auth.state.creds.me = { id: "15550001111:1@s.whatsapp.net", name: "Shop" };
    auth.state.creds.account = { details: new Uint8Array([1]) };
    assert.equal(auth.linked, true);
    auth.discardUnfinishedLink();
    assert.equal(auth.state.creds.me?.id, "15550001111:1@s.whatsapp.net");
    await auth.close();
  });
});

/** The auth state on a disk that can fill: the real file store under the full-disk store. */
async function withFillableDisk(
  fn: (disk: NoSpaceInjector, store: FullDiskStore) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const disk = new NoSpaceInjector(new FileSessionStore({ dataDir: dir, logger }));
    const store = new FullDiskStore(disk, {
      logger,
      probe: disk.probe,
      retry: { initialDelayMs: 10, maxDelayMs: 50 },
    });
    await store.open();
    try {
      await fn(disk, store);
    } finally {
      disk.full = false;
      await store.close();
    }
  });
}

const settledWithin = (promise: Promise<unknown>, ms: number) =>
  Promise.race([
    promise.then(() => true, () => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms)),
  ]);

Deno.test("a key write refused for lack of space waits and lands once space is back, newest value winning", async () => {
  await withFillableDisk(async (disk, store) => {
    const retry = { initialDelayMs: 5, maxDelayMs: 20 };
    const auth = await openAuthState(store.auth(singleOwnerFence(ID)), {
      logger,
      noSpaceRetry: retry,
    });
    disk.full = true;
    const first = Promise.resolve(
      auth.state.keys.set({ "identity-key": { "1": new Uint8Array([1]) } }),
    );
    const second = Promise.resolve(
      auth.state.keys.set({ "identity-key": { "1": new Uint8Array([2]) } }),
    );
    // Neither fails (Baileys would drop the message these keys decrypt) nor resolves (not durable).
    assert.equal(await settledWithin(Promise.any([first, second]), 300), false);
    const seen = await auth.state.keys.get("identity-key", ["1"]);
    assert.deepEqual([...seen["1"]], [2]);

    disk.full = false;
    await Promise.all([first, second]);
    await auth.close();
    await store.flush();
    const reopened = await openAuthState(store.auth(singleOwnerFence(ID)), { logger });
    const stored = await reopened.state.keys.get("identity-key", ["1"]);
    assert.deepEqual([...stored["1"]], [2]);
    await reopened.close();
  });
});

Deno.test("closing the auth state stops a write waiting for space: it fails with the 507 error", async () => {
  await withFillableDisk(async (disk, store) => {
    const auth = await openAuthState(store.auth(singleOwnerFence(ID)), {
      logger,
      noSpaceRetry: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    disk.full = true;
    const waiting = Promise.resolve(auth.state.keys.set({ session: { "1": new Uint8Array([1]) } }));
    assert.equal(await settledWithin(waiting, 100), false);
    await auth.close();
    await assert.rejects(waiting, InsufficientStorageError);
  });
});
