import assert from "node:assert/strict";
import type { SessionId } from "../../../src/domain/session_id.ts";
import type { AuthFileCodec } from "../../../src/persistence/auth_file_codec.ts";
import { FileSessionStore } from "../../../src/persistence/file_session_store.ts";
import { sessionRecord, silentLogger, withTempDir } from "../../support/persistence_fixtures.ts";
import { singleOwnerFence } from "../../../src/domain/fence.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array | undefined) => data && new TextDecoder().decode(data);
const id = (value: string) => value as SessionId;

async function withStore(
  fn: (store: FileSessionStore, dataDir: string) => Promise<void>,
  codec?: AuthFileCodec,
): Promise<void> {
  await withTempDir(async (dataDir) => {
    const store = new FileSessionStore({ dataDir, logger: silentLogger, codec });
    await store.open();
    try {
      await fn(store, dataDir);
    } finally {
      await store.close();
    }
  });
}

async function entries(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

Deno.test("auth().exists() is false before anything is stored and true once a file is", async () => {
  await withStore(async (store) => {
    const auth = store.auth(singleOwnerFence(id("shop-1")));
    assert.equal(await auth.exists(), false);
    await auth.write(new Map([["creds.json", bytes("{}")]]));
    assert.equal(await auth.exists(), true);
    await auth.write(new Map([["creds.json", null]]));
    assert.equal(await auth.exists(), false);
  });
});

Deno.test("auth files round-trip through write, read and list, and null deletes one", async () => {
  await withStore(async (store, dataDir) => {
    const auth = store.auth(singleOwnerFence(id("shop-1")));
    await auth.write(
      new Map([["creds.json", bytes('{"a":1}')], ["pre-key-1.json", bytes("k1")], [
        "pre-key-2.json",
        bytes("k2"),
      ]]),
    );
    await auth.write(new Map([["pre-key-1.json", null]]));
    assert.equal(text(await auth.read("creds.json")), '{"a":1}');
    assert.equal(await auth.read("pre-key-1.json"), undefined);
    assert.deepEqual(await auth.list(), ["creds.json", "pre-key-2.json"]);
    await store.flush(); // the plain files hold everything once the journal is checkpointed
    assert.deepEqual(await entries(`${dataDir}/shop-1`), ["creds.json", "pre-key-2.json"]);
  });
});

Deno.test("auth().write() creates the session folder 0700 and files 0600, in Baileys' layout", async () => {
  await withStore(async (store, dataDir) => {
    await store.auth(singleOwnerFence(id("shop-1"))).write(new Map([["creds.json", bytes("{}")]]));
    await store.flush();
    assert.equal((await Deno.stat(`${dataDir}/shop-1`)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(`${dataDir}/shop-1/creds.json`)).mode! & 0o777, 0o600);
    assert.equal(await Deno.readTextFile(`${dataDir}/shop-1/creds.json`), "{}");
  });
});

Deno.test("an existing Baileys auth folder dropped into the data directory is readable", async () => {
  await withTempDir(async (dataDir) => {
    await Deno.mkdir(`${dataDir}/legacy`);
    await Deno.writeTextFile(`${dataDir}/legacy/creds.json`, '{"registrationId":1}');
    await Deno.writeTextFile(`${dataDir}/legacy/app-state-sync-key-AAAA.json`, "{}");
    const store = new FileSessionStore({ dataDir, logger: silentLogger });
    const report = await store.open();
    try {
      assert.deepEqual(report.rebuiltFromAuth, []);
      assert.deepEqual(await store.listAuth(), ["legacy"]);
      const auth = store.auth(singleOwnerFence(id("legacy")));
      assert.equal(text(await auth.read("creds.json")), '{"registrationId":1}');
      assert.deepEqual(await auth.list(), ["app-state-sync-key-AAAA.json", "creds.json"]);
    } finally {
      await store.close();
    }
  });
});

Deno.test("auth().read() sees a write that is accepted but not yet durable", async () => {
  await withStore(async (store) => {
    const auth = store.auth(singleOwnerFence(id("shop-1")));
    await auth.write(new Map([["creds.json", bytes("old")]]));
    const writing = auth.write(new Map([["creds.json", bytes("new")], ["gone.json", null]]));
    assert.equal(text(await auth.read("creds.json")), "new");
    assert.equal(await auth.read("gone.json"), undefined);
    await writing;
  });
});

Deno.test("concurrent auth batches lose nothing and the last write of a file wins", async () => {
  await withStore(async (store, dataDir) => {
    const auth = store.auth(singleOwnerFence(id("shop-1")));
    await Promise.all(
      Array.from(
        { length: 200 },
        (_, i) =>
          auth.write(
            new Map([["creds.json", bytes(`${i}`)], [`pre-key-${i}.json`, bytes(`${i}`)]]),
          ),
      ),
    );
    await store.flush();
    assert.equal(await Deno.readTextFile(`${dataDir}/shop-1/creds.json`), "199");
    assert.equal((await auth.list()).length, 201);
  });
});

Deno.test("auth().delete() removes only that session's folder", async () => {
  await withStore(async (store, dataDir) => {
    await store.auth(singleOwnerFence(id("a"))).write(new Map([["creds.json", bytes("a")]]));
    await store.auth(singleOwnerFence(id("ab"))).write(new Map([["creds.json", bytes("ab")]]));
    await store.create(sessionRecord("a"));
    await store.auth(singleOwnerFence(id("a"))).delete();
    await store.flush();
    assert.deepEqual(await entries(dataDir), [".lock", "ab", "sessions-metadata.json"]);
    assert.equal(await Deno.readTextFile(`${dataDir}/ab/creds.json`), "ab");
    assert.equal(await store.auth(singleOwnerFence(id("a"))).exists(), false);
    await store.auth(singleOwnerFence(id("never-existed"))).delete();
  });
});

Deno.test("auth().delete() waits for the session's pending writes; later writes start a new folder", async () => {
  await withStore(async (store, dataDir) => {
    const auth = store.auth(singleOwnerFence(id("shop-1")));
    const keys = (from: number) =>
      new Map(Array.from({ length: 50 }, (_, i) => [`pre-key-${from + i}.json`, bytes("k")]));
    const inFlight = auth.write(keys(0));
    await new Promise((resolve) => setTimeout(resolve, 0)); // that batch is being written now
    const queued = auth.write(keys(50));
    const deleted = auth.delete();
    const after = auth.write(new Map([["creds.json", bytes("fresh")]]));
    await Promise.all([inFlight, queued, deleted, after]);
    assert.deepEqual(await auth.list(), ["creds.json"]);
    assert.deepEqual(await entries(dataDir), [".lock", "sessions-metadata.json", "shop-1"]);
  });
});

Deno.test("auth().delete() tolerates another writer adding files to the folder meanwhile", async () => {
  await withStore(async (store, dataDir) => {
    const auth = store.auth(singleOwnerFence(id("shop-1")));
    await auth.write(new Map([["creds.json", bytes("{}")]]));
    let stop = false;
    let added = 0;
    const intruder = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          await Deno.writeTextFile(`${dataDir}/shop-1/late-${i}.json`, "{}");
          added++;
        } catch {
          // The folder is gone: exactly what delete() is for.
        }
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    })();
    while (added < 20) await new Promise((resolve) => setTimeout(resolve, 1));
    try {
      await auth.delete();
    } finally {
      stop = true;
      await intruder;
    }
    assert.equal(await auth.exists(), false);
    assert.ok((await entries(dataDir)).every((name) => !name.startsWith(".trash-")));
  });
});

Deno.test("the codec encodes what is stored and decodes what is read", async () => {
  const reversing: AuthFileCodec = {
    encrypts: false,
    isCurrent: () => true,
    encode: (data) => Promise.resolve(data.slice().reverse()),
    decode: (data) => Promise.resolve(data.slice().reverse()),
  };
  await withStore(async (store, dataDir) => {
    const auth = store.auth(singleOwnerFence(id("shop-1")));
    await auth.write(new Map([["creds.json", bytes("abc")]]));
    await store.flush();
    assert.equal(await Deno.readTextFile(`${dataDir}/shop-1/creds.json`), "cba");
    assert.equal(text(await auth.read("creds.json")), "abc");
  }, reversing);
});
