import { strict as assert } from "node:assert";
import { DataDirectoryLockedError, EncryptionKeyError } from "../../src/domain/errors.ts";
import { SessionIdSchema } from "../../src/domain/session_id.ts";
import { writeFileAtomic } from "../../src/persistence/atomic_write.ts";
import { keyCheck, reencodeAuthFolder } from "../../src/persistence/auth_at_rest.ts";
import { plainCodec } from "../../src/persistence/auth_file_codec.ts";
import {
  createAesGcmCodec,
  isEncryptedAuthFile,
} from "../../src/persistence/encrypted_auth_file.ts";
import { FileSessionStore } from "../../src/persistence/file_session_store.ts";
import { encodeJournalRecord } from "../../src/persistence/auth_journal_record.ts";
import { rotateAuthFileKey } from "../../src/persistence/key_rotation.ts";
import { FileMessageStore } from "../../src/persistence/message_store/file_message_store.ts";
import { createValueSealer } from "../../src/persistence/sealed_value.ts";
import { storedText } from "../support/message_store_contract.ts";
import { spawnGateway, taskFlags } from "../support/gateway_process.ts";
import { REPO_ROOT } from "../support/child_process.ts";
import { testLogger } from "../support/logger.ts";
import { snapshotTree, withTempDir } from "../support/temp_dir.ts";
import { singleOwnerFence } from "../../src/domain/fence.ts";

const logger = testLogger();
const OLD = new Uint8Array(32).fill(11);
const NEW = new Uint8Array(32).fill(22);
const THIRD = new Uint8Array(32).fill(33);
const SESSIONS = ["shop-1", "shop-2"];
const FILES = ["creds.json", "pre-key-1.json", "pre-key-2.json"];
const content = (session: string, name: string) =>
  new TextEncoder().encode(JSON.stringify({ session, name }));
const codec = (key?: Uint8Array) => key ? createAesGcmCodec(key) : Promise.resolve(plainCodec);
const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

/** A data directory with two sessions whose files are encrypted under `key` (or plaintext). */
async function seed(dir: string, key?: Uint8Array): Promise<void> {
  const store = new FileSessionStore({ dataDir: dir, logger, codec: await codec(key) });
  await store.open();
  for (const session of SESSIONS) {
    await store.auth(singleOwnerFence(SessionIdSchema.parse(session))).write(
      new Map(FILES.map((name) => [name, content(session, name)])),
    );
  }
  await store.close();
}

/** Opens the directory with `key` and checks every file reads back as seeded. */
async function assertReadableWith(dir: string, key?: Uint8Array): Promise<void> {
  const store = new FileSessionStore({ dataDir: dir, logger, codec: await codec(key) });
  await store.open();
  try {
    assert.deepEqual(await store.listAuth(), SESSIONS);
    for (const session of SESSIONS) {
      for (const name of FILES) {
        const data = await store.auth(singleOwnerFence(SessionIdSchema.parse(session))).read(name);
        assert.deepEqual(data, content(session, name), `${session}/${name}`);
        const raw = await Deno.readFile(`${dir}/${session}/${name}`);
        assert.equal(isEncryptedAuthFile(raw), Boolean(key), `${session}/${name} on disk`);
      }
    }
  } finally {
    await store.close();
  }
}

const mismatch = (error: unknown) =>
  error instanceof EncryptionKeyError && error.code === "encryption_key_mismatch";

Deno.test("rotateAuthFileKey() re-encrypts every file; only the new key opens the directory", async () => {
  await withTempDir(async (dir) => {
    await seed(dir, OLD);
    const before = await snapshotTree(dir);
    assert.notEqual(before[".closed-cleanly"], undefined, "seed() closed its store cleanly");
    const report = await rotateAuthFileKey({
      dataDir: dir,
      from: await codec(OLD),
      to: await codec(NEW),
      logger,
    });
    assert.deepEqual(report, { sessions: 2, files: 6 });
    const after = await snapshotTree(dir);
    // It wrote into the session folders: the next open must sweep them, as after a crash.
    assert.equal(after[".closed-cleanly"], undefined);
    for (const session of SESSIONS) {
      for (const name of FILES) {
        assert.notEqual(after[`${session}/${name}`], before[`${session}/${name}`]);
      }
    }
    assert.equal(after[".key-rotation"], undefined);

    await assertReadableWith(dir, NEW);
    const store = new FileSessionStore({ dataDir: dir, logger, codec: await codec(OLD) });
    await assert.rejects(() => store.open(), mismatch);
  });
});

Deno.test("rotateAuthFileKey() refuses while a gateway holds the data directory", async () => {
  await withTempDir(async (dir) => {
    await seed(dir, OLD);
    const store = new FileSessionStore({ dataDir: dir, logger, codec: await codec(OLD) });
    await store.open();
    try {
      const before = await snapshotTree(dir);
      await assert.rejects(
        async () =>
          await rotateAuthFileKey({
            dataDir: dir,
            from: await codec(OLD),
            to: await codec(NEW),
            logger,
          }),
        DataDirectoryLockedError,
      );
      assert.deepEqual(await snapshotTree(dir), before);
    } finally {
      await store.close();
    }
  });
});

Deno.test("rotateAuthFileKey() with a wrong old key changes nothing, not even a crash's leftovers", async () => {
  await withTempDir(async (dir) => {
    await seed(dir, OLD);
    // A crash left a journal (in shop-1; in shop-3 it holds the only credentials) and
    // half-written files.
    const journal = async (sessionId: string, name: string) =>
      encodeJournalRecord(
        new Map([[
          name,
          await (await codec(OLD)).encode(content(sessionId, name), { sessionId, name }),
        ]]),
      );
    await Deno.writeFile(`${dir}/shop-1/.journal`, await journal("shop-1", "pre-key-9.json"));
    await Deno.mkdir(`${dir}/shop-3`, { mode: 0o700 });
    await Deno.writeFile(`${dir}/shop-3/.journal`, await journal("shop-3", "creds.json"));
    await Deno.writeTextFile(`${dir}/shop-1/.tmp-1111`, "half an auth file");
    await Deno.writeTextFile(`${dir}/.tmp-0000`, "half a metadata file");
    const before = await snapshotTree(dir);
    const rotate = async () =>
      await rotateAuthFileKey({
        dataDir: dir,
        from: await codec(THIRD),
        to: await codec(NEW),
        logger,
      });
    await assert.rejects(rotate, mismatch);
    assert.deepEqual(await snapshotTree(dir), before);

    // Without the key check file, the per-session check catches it just the same, journals
    // included.
    await Deno.remove(`${dir}/.encryption-key-check`);
    const withoutCheck = await snapshotTree(dir);
    await assert.rejects(rotate, (error: unknown) => mismatch(error) && /shop-3/.test(`${error}`));
    assert.deepEqual(await snapshotTree(dir), withoutCheck);
  });
});

Deno.test("an interrupted rotation blocks startup until it is run again with the same keys", async () => {
  await withTempDir(async (dir) => {
    await seed(dir, OLD);
    // The state a crash leaves: the marker written, one session done, the other not.
    const [from, to] = [await codec(OLD), await codec(NEW)];
    await writeFileAtomic(`${dir}/.key-rotation`, await keyCheck(to));
    await reencodeAuthFolder(
      dir,
      SessionIdSchema.parse("shop-1"),
      async (stored, file) => await to.encode(await from.decode(stored, file), file),
    );

    for (const key of [OLD, NEW]) {
      const store = new FileSessionStore({ dataDir: dir, logger, codec: await codec(key) });
      await assert.rejects(
        () => store.open(),
        (error: unknown) =>
          error instanceof EncryptionKeyError && error.code === "key_rotation_incomplete",
      );
    }
    // Resuming towards another new key than the interrupted run's is refused.
    const before = await snapshotTree(dir);
    await assert.rejects(
      async () => await rotateAuthFileKey({ dataDir: dir, from, to: await codec(THIRD), logger }),
      (error: unknown) =>
        error instanceof EncryptionKeyError && error.code === "key_rotation_incomplete",
    );
    assert.deepEqual(await snapshotTree(dir), before);

    const report = await rotateAuthFileKey({ dataDir: dir, from, to, logger });
    assert.deepEqual(report, { sessions: 2, files: 3 });
    await assertReadableWith(dir, NEW);
  });
});

Deno.test("rotateAuthFileKey() encrypts a plaintext directory and decrypts an encrypted one", async () => {
  await withTempDir(async (dir) => {
    await seed(dir);
    await rotateAuthFileKey({ dataDir: dir, from: plainCodec, to: await codec(NEW), logger });
    await assertReadableWith(dir, NEW);
    await rotateAuthFileKey({ dataDir: dir, from: await codec(NEW), to: plainCodec, logger });
    await assertReadableWith(dir);
    assert.equal((await snapshotTree(dir))[".encryption-key-check"], undefined);
  });
});

Deno.test(
  "deno task rotate-key rotates with least privilege, and refuses while the gateway runs",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    await withTempDir(async (dir) => {
      await seed(dir, OLD);
      const rotateKey = async () =>
        await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--frozen",
            ...(await taskFlags("rotate-key", dir)),
            `${REPO_ROOT}src/rotate_encryption_key.ts`,
          ],
          cwd: REPO_ROOT,
          env: {
            SESSIONS_DATA_PATH: dir,
            OLD_SESSIONS_ENCRYPTION_KEY: base64(OLD),
            SESSIONS_ENCRYPTION_KEY: base64(NEW),
          },
          stdin: "null",
        }).output();

      const gateway = await spawnGateway({
        dataDir: dir,
        env: { SESSIONS_ENCRYPTION_KEY: base64(OLD) },
      });
      try {
        const refused = await rotateKey();
        const output = new TextDecoder().decode(refused.stderr);
        assert.equal(refused.code, 1, output);
        assert.match(output, /stop the gateway/);
      } finally {
        gateway.kill("SIGTERM");
        await gateway.exited;
      }

      const done = await rotateKey();
      const output = new TextDecoder().decode(done.stderr);
      assert.equal(done.code, 0, output);
      assert.ok(!output.includes(base64(OLD)) && !output.includes(base64(NEW)), output);
      await assertReadableWith(dir, NEW);
    });
  },
);

Deno.test("rotateAuthFileKey() replays a journal a crash left, so no write under the old key survives", async () => {
  await withTempDir(async (dir) => {
    await seed(dir, OLD);
    // A crash after a batch was journaled (under the old key) but before it reached the files.
    const file = { sessionId: "shop-1", name: "pre-key-9.json" };
    const journaled = await (await codec(OLD)).encode(content("shop-1", file.name), file);
    await Deno.writeFile(
      `${dir}/shop-1/.journal`,
      encodeJournalRecord(new Map([[file.name, journaled]])),
    );

    await rotateAuthFileKey({ dataDir: dir, from: await codec(OLD), to: await codec(NEW), logger });

    assert.equal(await Deno.lstat(`${dir}/shop-1/.journal`).catch(() => null), null);
    const store = new FileSessionStore({ dataDir: dir, logger, codec: await codec(NEW) });
    await store.open();
    try {
      const data = await store.auth(singleOwnerFence(SessionIdSchema.parse("shop-1"))).read(
        file.name,
      );
      assert.deepEqual(data, content("shop-1", file.name));
    } finally {
      await store.close();
    }
  });
});

Deno.test("rotateAuthFileKey() moves the stored messages to the new key", async () => {
  await withTempDir(async (dir) => {
    await seed(dir, OLD);
    const retention = { maxAgeMs: 365 * 86_400_000, maxBytesPerSession: 1 << 20 };
    const sessionId = SessionIdSchema.parse("shop-1");
    const message = storedText("M1", Date.now());
    const before = new FileMessageStore({
      dataDir: dir,
      logger,
      retention,
      sealer: createValueSealer(OLD),
    });
    await before.open();
    await before.put({ sessionId, epoch: 0 }, [message]);
    await before.close();
    await rotateAuthFileKey({
      dataDir: dir,
      from: await codec(OLD),
      to: await codec(NEW),
      fromSealer: createValueSealer(OLD),
      toSealer: createValueSealer(NEW),
      logger,
    });
    const withNew = new FileMessageStore({
      dataDir: dir,
      logger,
      retention,
      sealer: createValueSealer(NEW),
    });
    const report = await withNew.open();
    assert.deepEqual(report.repairs, []);
    assert.deepEqual(await withNew.get(sessionId, "M1"), message);
    await withNew.close();
    const withOld = new FileMessageStore({
      dataDir: dir,
      logger,
      retention,
      sealer: createValueSealer(OLD),
    });
    const stale = await withOld.open();
    assert.equal(stale.messages, 0, "the old key opens nothing");
    await withOld.close();
  });
});
