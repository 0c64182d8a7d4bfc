import assert from "node:assert/strict";
import type { SessionId } from "../../../src/domain/session_id.ts";
import type { AuthFileCodec } from "../../../src/persistence/auth_file_codec.ts";
import {
  decodeJournalRecords,
  encodeJournalRecord,
} from "../../../src/persistence/auth_journal_record.ts";
import {
  FileSessionStore,
  type FileSessionStoreOptions,
} from "../../../src/persistence/file_session_store.ts";
import { PersistenceError } from "../../../src/domain/errors.ts";
import { syncedAtAcks } from "../../support/crash_consistency/harness.ts";
import {
  captureLogger,
  exists,
  silentLogger,
  withTempDir,
} from "../../support/persistence_fixtures.ts";
import { singleOwnerFence } from "../../../src/domain/fence.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array | undefined) => data && new TextDecoder().decode(data);
const id = (value: string) => value as SessionId;
/** Long enough that no idle checkpoint runs while a test looks at the journal. */
const NEVER_IDLE = 3_600_000;

async function entries(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

async function withStore(
  dataDir: string,
  options: Partial<FileSessionStoreOptions>,
  fn: (store: FileSessionStore) => Promise<void>,
): Promise<void> {
  const store = new FileSessionStore({ dataDir, logger: silentLogger, ...options });
  await store.open();
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

/** Waits for a background step (a checkpoint) to show on disk; fails after a generous while. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let waited = 0; !(await check()); waited += 10) {
    if (waited > 10_000) assert.fail(`never happened: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function writeJournal(folder: string, ...records: Uint8Array[]): Promise<void> {
  await Deno.mkdir(folder, { recursive: true });
  const file = await Deno.open(`${folder}/.journal`, { write: true, create: true });
  for (const record of records) await file.write(record);
  file.close();
}

Deno.test(
  "a write is durable in the journal when it resolves, and close() leaves plain files only",
  {
    sanitizeOps: false,
    sanitizeResources: false,
  },
  async () => {
    // A crash right after the write resolved keeps only what was synced (strace tells).
    await withTempDir(async (root) => {
      const probe = new URL(
        "../../support/crash_consistency/probes/durability_probe_child.ts",
        import.meta.url,
      );
      const [written] = await syncedAtAcks(probe, root, [root, "journal-write"]);
      assert.equal(written.value.op, "written");
      const journal = written.tree.files.get("data/shop-1/.journal");
      assert.ok(journal, "the journal survives a crash right after the write resolved");
      const [record] = decodeJournalRecords(journal).records;
      assert.equal(text(record?.get("creds.json") ?? undefined), '{"me":"shop"}');
    });
    await withTempDir(async (dataDir) => {
      await withStore(dataDir, { journalIdleMs: NEVER_IDLE }, async (store) => {
        const auth = store.auth(singleOwnerFence(id("shop-1")));
        await auth.write(new Map([["creds.json", bytes("{}")]]));
        assert.ok(await exists(`${dataDir}/shop-1/.journal`), "the write went through the journal");
        assert.deepEqual(await auth.list(), ["creds.json"]); // the journal is not an auth file
      });
      assert.deepEqual(await entries(`${dataDir}/shop-1`), ["creds.json"]);
      assert.equal(await Deno.readTextFile(`${dataDir}/shop-1/creds.json`), "{}");
    });
  },
);

Deno.test("open() replays a journal left by a crash, in order, then deletes it", async () => {
  await withTempDir(async (dataDir) => {
    await Deno.mkdir(`${dataDir}/shop-1`);
    await Deno.writeTextFile(`${dataDir}/shop-1/creds.json`, "v0");
    await Deno.writeTextFile(`${dataDir}/shop-1/pre-key-1.json`, "k1");
    await writeJournal(
      `${dataDir}/shop-1`,
      encodeJournalRecord(new Map([["creds.json", bytes("v1")], ["pre-key-2.json", bytes("k2")]])),
      encodeJournalRecord(new Map([["creds.json", bytes("v2")], ["pre-key-1.json", null]])),
    );
    // A session whose only trace is its journal: its first write was never applied.
    await writeJournal(
      `${dataDir}/new-1`,
      encodeJournalRecord(new Map([["creds.json", bytes("n")]])),
    );

    const { logger, lines } = captureLogger();
    const store = new FileSessionStore({ dataDir, logger });
    await store.open();
    try {
      assert.deepEqual(await store.listAuth(), ["new-1", "shop-1"]);
      const auth = store.auth(singleOwnerFence(id("shop-1")));
      assert.equal(text(await auth.read("creds.json")), "v2");
      assert.equal(await auth.read("pre-key-1.json"), undefined);
      assert.deepEqual(await auth.list(), ["creds.json", "pre-key-2.json"]);
      assert.equal(text(await store.auth(singleOwnerFence(id("new-1"))).read("creds.json")), "n");
    } finally {
      await store.close();
    }
    assert.deepEqual(await entries(`${dataDir}/shop-1`), ["creds.json", "pre-key-2.json"]);
    assert.equal(await Deno.readTextFile(`${dataDir}/shop-1/creds.json`), "v2");
    const replays = lines.filter((l) => l.msg.startsWith("replayed the auth journal"));
    assert.equal(replays.length, 2);
  });
});

Deno.test("a torn last record is ignored on replay and the whole ones before it are kept", async () => {
  await withTempDir(async (dataDir) => {
    const torn = encodeJournalRecord(new Map([["creds.json", bytes("never acknowledged")]]));
    await writeJournal(
      `${dataDir}/shop-1`,
      encodeJournalRecord(new Map([["creds.json", bytes("acknowledged")]])),
      torn.subarray(0, torn.length - 3),
    );
    const { logger, lines } = captureLogger();
    const store = new FileSessionStore({ dataDir, logger });
    await store.open();
    try {
      assert.equal(
        text(await store.auth(singleOwnerFence(id("shop-1"))).read("creds.json")),
        "acknowledged",
      );
    } finally {
      await store.close();
    }
    assert.deepEqual(await entries(`${dataDir}/shop-1`), ["creds.json"]);
    const warning = lines.find((l) => l.msg.includes("ignored its torn last record"));
    assert.equal(warning?.ignoredBytes, torn.length - 3);
  });
});

Deno.test("a folder deleted just before a crash never comes back, journal and all", async () => {
  await withTempDir(async (dataDir) => {
    // What delete() leaves if the process dies after its rename, before the trash is removed.
    await Deno.mkdir(`${dataDir}/.trash-1234`);
    await Deno.writeTextFile(`${dataDir}/.trash-1234/creds.json`, "old");
    await writeJournal(
      `${dataDir}/.trash-1234`,
      encodeJournalRecord(new Map([["creds.json", bytes("journaled")]])),
    );
    await withStore(dataDir, {}, async (store) => {
      assert.deepEqual(await store.listAuth(), []);
      assert.equal(await store.auth(singleOwnerFence(id("1234"))).exists(), false);
    });
    assert.deepEqual(await entries(dataDir), [
      ".closed-cleanly",
      ".lock",
      "sessions-metadata.json",
    ]);
  });
});

Deno.test("delete() discards journaled writes; writes after it start a new journal", async () => {
  await withTempDir(async (dataDir) => {
    await withStore(dataDir, { journalIdleMs: NEVER_IDLE }, async (store) => {
      const auth = store.auth(singleOwnerFence(id("shop-1")));
      await auth.write(new Map([["creds.json", bytes("old")], ["pre-key-1.json", bytes("k")]]));
      await auth.delete();
      assert.equal(await exists(`${dataDir}/shop-1`), false);
      assert.equal(await auth.exists(), false);
      assert.equal(await auth.read("pre-key-1.json"), undefined);
      await auth.write(new Map([["creds.json", bytes("new")]]));
      assert.ok(await exists(`${dataDir}/shop-1/.journal`));
      assert.deepEqual(await auth.list(), ["creds.json"]);
    });
    assert.deepEqual(await entries(`${dataDir}/shop-1`), ["creds.json"]);
    assert.equal(await Deno.readTextFile(`${dataDir}/shop-1/creds.json`), "new");
  });
});

Deno.test("read(), list() and exists() see journaled writes that are not applied to the files yet", async () => {
  await withTempDir(async (dataDir) => {
    await withStore(dataDir, { journalIdleMs: NEVER_IDLE }, async (store) => {
      const auth = store.auth(singleOwnerFence(id("shop-1")));
      await auth.write(new Map([["creds.json", bytes("v1")]]));
      // A directory where a file must go makes every background apply fail, so the next batch
      // stays journaled but unapplied for as long as it is there.
      await Deno.mkdir(`${dataDir}/shop-1/pre-key-1.json`);
      await auth.write(new Map([["creds.json", bytes("v2")], ["pre-key-1.json", bytes("k1")]]));
      await auth.write(new Map([["pre-key-2.json", bytes("k2")], ["creds.json", null]]));
      assert.equal(text(await auth.read("pre-key-1.json")), "k1");
      assert.equal(text(await auth.read("pre-key-2.json")), "k2");
      assert.equal(await auth.read("creds.json"), undefined);
      assert.deepEqual(await auth.list(), ["pre-key-1.json", "pre-key-2.json"]);
      assert.equal(await auth.exists(), true);
      assert.equal((await Deno.lstat(`${dataDir}/shop-1/pre-key-1.json`)).isDirectory, true);
      // A checkpoint that cannot apply keeps the journal, which keeps the writes durable.
      await store.flush();
      assert.ok(await exists(`${dataDir}/shop-1/.journal`));

      await Deno.remove(`${dataDir}/shop-1/pre-key-1.json`);
      await store.flush(); // the checkpoint applies what is left
      assert.deepEqual(await entries(`${dataDir}/shop-1`), ["pre-key-1.json", "pre-key-2.json"]);
      assert.equal(await Deno.readTextFile(`${dataDir}/shop-1/pre-key-1.json`), "k1");
    });
  });
});

Deno.test("an idle folder's journal is checkpointed into the files", async () => {
  await withTempDir(async (dataDir) => {
    await withStore(dataDir, { journalIdleMs: 5 }, async (store) => {
      await store.auth(singleOwnerFence(id("shop-1"))).write(
        new Map([["creds.json", bytes("{}")]]),
      );
      await eventually(
        "idle checkpoint",
        async () => !(await exists(`${dataDir}/shop-1/.journal`)),
      );
      assert.deepEqual(await entries(`${dataDir}/shop-1`), ["creds.json"]);
    });
  });
});

Deno.test("a journal past its size threshold is checkpointed while writes go on", async () => {
  await withTempDir(async (dataDir) => {
    const options = { journalIdleMs: NEVER_IDLE, journalCheckpointBytes: 1024 };
    await withStore(dataDir, options, async (store) => {
      const auth = store.auth(singleOwnerFence(id("shop-1")));
      // Every record passes the threshold alone, so the last one is checkpointed too.
      for (let i = 0; i < 20; i++) {
        await auth.write(new Map([[`pre-key-${i}.json`, bytes("k".repeat(2_000))]]));
      }
      await eventually(
        "size checkpoint",
        async () => !(await exists(`${dataDir}/shop-1/.journal`)),
      );
      assert.equal((await auth.list()).length, 20);
    });
  });
});

Deno.test("the journal holds what the codec produced, never the plain content", async () => {
  const xor: AuthFileCodec = {
    encrypts: false,
    isCurrent: () => true,
    encode: (data) => Promise.resolve(data.map((b) => b ^ 0x5a)),
    decode: (data) => Promise.resolve(data.map((b) => b ^ 0x5a)),
  };
  await withTempDir(async (dataDir) => {
    await withStore(dataDir, { codec: xor, journalIdleMs: NEVER_IDLE }, async (store) => {
      const auth = store.auth(singleOwnerFence(id("shop-1")));
      await auth.write(new Map([["creds.json", bytes("plain secret")]]));
      const journal = new TextDecoder("latin1").decode(
        await Deno.readFile(`${dataDir}/shop-1/.journal`),
      );
      assert.ok(!journal.includes("plain secret"), "plaintext in the journal");
      const encoded = new TextDecoder("latin1").decode(bytes("plain secret").map((b) => b ^ 0x5a));
      assert.ok(journal.includes(encoded), "the encoded bytes are journaled");
      assert.equal(text(await auth.read("creds.json")), "plain secret");
    });
    // Replay writes the encoded bytes as they are.
    await writeJournal(
      `${dataDir}/shop-2`,
      encodeJournalRecord(new Map([["creds.json", bytes("abc").map((b) => b ^ 0x5a)]])),
    );
    await withStore(dataDir, { codec: xor }, async (store) => {
      assert.equal(
        text(await store.auth(singleOwnerFence(id("shop-2"))).read("creds.json")),
        "abc",
      );
    });
  });
});

Deno.test("open() refuses a journal that is not a regular file, and names it", async () => {
  await withTempDir(async (root) => {
    const dataDir = `${root}/data`;
    await Deno.mkdir(`${dataDir}/shop-1`, { recursive: true });
    await Deno.writeTextFile(`${root}/outside`, "keep");
    await Deno.symlink(`${root}/outside`, `${dataDir}/shop-1/.journal`);
    const store = new FileSessionStore({ dataDir, logger: silentLogger });
    await assert.rejects(store.open(), (error: Error) => {
      assert.ok(error instanceof PersistenceError);
      assert.match(error.message, /shop-1\/\.journal is not a regular file/);
      return true;
    });
    await store.close();
    assert.equal(await Deno.readTextFile(`${root}/outside`), "keep");
  });
});
