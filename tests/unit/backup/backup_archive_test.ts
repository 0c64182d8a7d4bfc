import assert from "node:assert/strict";
import {
  BackupError,
  createBackup,
  restoreBackup,
  verifyArchive,
} from "../../../src/backup/backup_archive.ts";
import type { SessionId } from "../../../src/domain/session_id.ts";
import { createAesGcmCodec } from "../../../src/persistence/encrypted_auth_file.ts";
import { FileSessionStore } from "../../../src/persistence/file_session_store.ts";
import { testLogger } from "../../support/logger.ts";
import { snapshotTree, withTempDir } from "../../support/temp_dir.ts";
import { singleOwnerFence } from "../../../src/domain/fence.ts";
import { FileMessageStore } from "../../../src/persistence/message_store/file_message_store.ts";
import { createValueSealer } from "../../../src/persistence/sealed_value.ts";
import { storedText } from "../../support/message_store_contract.ts";

/** A data directory with metadata, two session folders, a store file and leftovers to skip. */
async function sampleDataDir(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/shop-1`, { recursive: true });
  await Deno.mkdir(`${dir}/shop-2`);
  await Deno.mkdir(`${dir}/.trash-1234`);
  await Deno.writeTextFile(`${dir}/sessions-metadata.json`, '{"shop-1":{},"shop-2":{}}');
  await Deno.writeTextFile(`${dir}/.api-key`, "key\n");
  await Deno.writeTextFile(`${dir}/.lock`, "");
  await Deno.writeTextFile(`${dir}/.closed-cleanly`, "mark");
  await Deno.writeTextFile(`${dir}/.tmp-abc`, "half");
  await Deno.writeTextFile(`${dir}/.trash-1234/creds.json`, "{}");
  await Deno.writeTextFile(`${dir}/shop-1/creds.json`, '{"registrationId":1}');
  await Deno.writeTextFile(`${dir}/shop-1/pre-key-1.json`, '{"public":"x"}');
  await Deno.writeTextFile(`${dir}/shop-1/.tmp-def`, "half");
  await Deno.writeFile(`${dir}/shop-2/creds.json`, new Uint8Array([0, 87, 65, 71, 1, 2, 3]));
}

/** The tree without what a backup leaves out by design. */
async function backedUpTree(dir: string): Promise<Record<string, string>> {
  const tree = await snapshotTree(dir);
  return Object.fromEntries(
    Object.entries(tree).filter(([path]) =>
      !/(^|\/)(\.lock|\.closed-cleanly|\.tmp-|\.trash-)/.test(path)
    ),
  );
}

Deno.test("createBackup() and restoreBackup() round-trip a data directory", async () => {
  await withTempDir(async (root) => {
    await sampleDataDir(`${root}/data`);
    const report = await createBackup(`${root}/data`, `${root}/backup.tar`);
    assert.deepEqual(report.files.sort(), [
      ".api-key",
      "sessions-metadata.json",
      "shop-1/creds.json",
      "shop-1/pre-key-1.json",
      "shop-2/creds.json",
    ]);
    assert.deepEqual(report.sessions.sort(), ["shop-1", "shop-2"]);
    assert.deepEqual(report.warnings, [], "an encrypted (NUL-led) file is not parsed as JSON");
    assert.equal((await Deno.stat(`${root}/backup.tar`)).mode! & 0o777, 0o600);

    const restored = await restoreBackup(`${root}/backup.tar`, `${root}/restored`);
    assert.equal(restored.files.length, 5);
    assert.deepEqual(await snapshotTree(`${root}/restored`), await backedUpTree(`${root}/data`));
    assert.equal((await Deno.stat(`${root}/restored`)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(`${root}/restored/shop-1/creds.json`)).mode! & 0o777, 0o600);
  });
});

Deno.test("restoreBackup() refuses a non-empty directory and changes nothing", async () => {
  await withTempDir(async (root) => {
    await sampleDataDir(`${root}/data`);
    await createBackup(`${root}/data`, `${root}/backup.tar`);
    await Deno.mkdir(`${root}/busy`);
    await Deno.writeTextFile(`${root}/busy/keep.txt`, "mine");
    await assert.rejects(
      () => restoreBackup(`${root}/backup.tar`, `${root}/busy`),
      BackupError,
      "not empty",
    );
    assert.deepEqual(await snapshotTree(`${root}/busy`), { "keep.txt": "mine" });
    await restoreBackup(`${root}/backup.tar`, `${root}/data-empty`).then(() => {});
  });
});

Deno.test("restoreBackup() refuses an archive whose content does not match its checksums", async () => {
  await withTempDir(async (root) => {
    await sampleDataDir(`${root}/data`);
    await createBackup(`${root}/data`, `${root}/backup.tar`);
    const bytes = await Deno.readFile(`${root}/backup.tar`);
    const at = new TextDecoder("latin1").decode(bytes).indexOf('{"registrationId":1}');
    bytes[at + 2] = "X".charCodeAt(0); // the content only: tar's own header checksums still pass
    await Deno.writeFile(`${root}/tampered.tar`, bytes);
    await assert.rejects(() => verifyArchive(`${root}/tampered.tar`), BackupError, "checksum");
    await assert.rejects(
      () => restoreBackup(`${root}/tampered.tar`, `${root}/restored`),
      BackupError,
      "shop-1/creds.json",
    );
    const left = await Array.fromAsync(Deno.readDir(root));
    assert.ok(!left.some((entry) => entry.name === "restored"), "nothing was written");
  });
});

Deno.test("restoreBackup() checks each file again as it writes it: an archive changed after the check restores nothing", async () => {
  await withTempDir(async (root) => {
    await sampleDataDir(`${root}/data`);
    await createBackup(`${root}/data`, `${root}/backup.tar`);
    const original = await Deno.readFile(`${root}/backup.tar`);
    const tampered = original.slice();
    const at = new TextDecoder("latin1").decode(tampered).indexOf('{"registrationId":1}');
    tampered[at + 2] = "X".charCodeAt(0);
    // A named pipe serves the original to the first read (the check) and the tampered archive
    // to the second (the writing). Each feed goes on with zero blocks, which a tar reader never
    // reaches, until the reader closes its end: so the next feed goes to the next read.
    const pipe = `${root}/backup.pipe`;
    const made = await new Deno.Command("mkfifo", { args: [pipe] }).output();
    assert.equal(made.code, 0);
    const feeder = (async () => {
      for (const bytes of [original, tampered]) {
        const file = await Deno.open(pipe, { write: true });
        try {
          for (let written = 0; written < bytes.length;) {
            written += await file.write(bytes.subarray(written));
          }
          for (;;) await file.write(new Uint8Array(512));
        } catch {
          // the reader closed its end
        } finally {
          file.close();
        }
      }
    })();
    try {
      await assert.rejects(
        () => restoreBackup(pipe, `${root}/restored`),
        BackupError,
        "shop-1/creds.json",
      );
      const left = await Array.fromAsync(Deno.readDir(root));
      assert.ok(!left.some((entry) => entry.name === "restored"), "nothing was written");
    } finally {
      const done = await Promise.race([
        feeder.then(() => true),
        new Promise((resolve) => setTimeout(() => resolve(false), 2_000)),
      ]);
      if (!done) (await Deno.open(pipe, { read: true })).close(); // a feeder still waiting
      await feeder;
    }
  });
});

Deno.test("restoreBackup() refuses an archive without its manifest, or cut short", async () => {
  await withTempDir(async (root) => {
    await sampleDataDir(`${root}/data`);
    await createBackup(`${root}/data`, `${root}/backup.tar`);
    const bytes = await Deno.readFile(`${root}/backup.tar`);
    await Deno.writeFile(`${root}/short.tar`, bytes.subarray(0, bytes.length - 2048));
    await assert.rejects(() => restoreBackup(`${root}/short.tar`, `${root}/r1`), BackupError);
    await assert.rejects(
      () => restoreBackup(`${root}/missing.tar`, `${root}/r2`),
      BackupError,
      "does not exist",
    );
  });
});

Deno.test("createBackup() refuses to write the archive inside the data directory", async () => {
  await withTempDir(async (root) => {
    await sampleDataDir(`${root}/data`);
    await assert.rejects(
      () => createBackup(`${root}/data`, `${root}/data/backup.tar`),
      BackupError,
      "outside",
    );
    await assert.rejects(() => createBackup(`${root}/nope`, `${root}/b.tar`), BackupError);
  });
});

Deno.test("createBackup() keeps a JSON file that does not parse, and warns about it", async () => {
  await withTempDir(async (root) => {
    await sampleDataDir(`${root}/data`);
    await Deno.writeTextFile(`${root}/data/shop-1/session-x.json`, '{"cut');
    await Deno.symlink("/etc/hostname", `${root}/data/shop-1/link.json`);
    const report = await createBackup(`${root}/data`, `${root}/backup.tar`);
    assert.ok(report.files.includes("shop-1/session-x.json"));
    assert.ok(!report.files.includes("shop-1/link.json"), "symlinks are never followed");
    assert.equal(report.warnings.length, 2, report.warnings.join("\n"));
    assert.ok(report.warnings.some((w) => w.includes("shop-1/session-x.json: not valid JSON")));
    assert.ok(report.warnings.some((w) => w.includes("shop-1/link.json")));
    const manifest = await verifyArchive(`${root}/backup.tar`);
    assert.deepEqual(manifest.warnings, report.warnings);
  });
});

Deno.test("a backup taken while auth files are being written holds a state the folder had", async () => {
  await withTempDir(async (root) => {
    const dataDir = `${root}/data`;
    const store = new FileSessionStore({ dataDir, logger: testLogger() });
    await store.open();
    const files = store.auth(singleOwnerFence("shop-1" as SessionId));
    const names = ["creds.json", "pre-key-1.json", "pre-key-2.json", "session-a.json"];
    let generation = 0;
    const writeBatch = () => {
      generation++;
      const bytes = new TextEncoder().encode(JSON.stringify({ generation }));
      return files.write(new Map(names.map((name) => [name, bytes])));
    };
    await writeBatch();
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await writeBatch();
        // A short pause between batches, as between two Baileys events.
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    try {
      for (let i = 0; i < 5; i++) {
        const report = await createBackup(dataDir, `${root}/backup-${i}.tar`);
        await restoreBackup(`${root}/backup-${i}.tar`, `${root}/restored-${i}`);
        // Opening the restored directory replays its journal, as the gateway does on start.
        const restored = new FileSessionStore({
          dataDir: `${root}/restored-${i}`,
          logger: testLogger(),
        });
        await restored.open();
        const generations: number[] = [];
        try {
          for (const name of names) {
            const data = await restored.auth(singleOwnerFence("shop-1" as SessionId)).read(name);
            generations.push(JSON.parse(new TextDecoder().decode(data)).generation);
          }
        } finally {
          await restored.close();
        }
        // Every batch writes all four files: any state the folder had holds one generation.
        assert.ok(
          generations.every((g) => g === generations[0]),
          `backup ${i} is no state the folder ever had: ${generations} ${report.warnings}`,
        );
      }
      assert.ok(generation > 5, "the writer kept writing during the backups");
    } finally {
      writing = false;
      await writer;
      await store.close();
    }
  });
});

Deno.test("an encrypted data directory round-trips, and its files decrypt with the same key", async () => {
  await withTempDir(async (root) => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const creds = new TextEncoder().encode('{"registrationId":7}');
    const open = async (dataDir: string) => {
      const store = new FileSessionStore({
        dataDir,
        logger: testLogger(),
        codec: await createAesGcmCodec(key),
      });
      await store.open();
      return store;
    };
    const original = await open(`${root}/data`);
    await original.auth(singleOwnerFence("shop-1" as SessionId)).write(
      new Map([["creds.json", creds]]),
    );
    const report = await createBackup(`${root}/data`, `${root}/backup.tar`);
    await original.close();
    assert.deepEqual(report.warnings, [], "ciphertext is not mistaken for broken JSON");

    await restoreBackup(`${root}/backup.tar`, `${root}/restored`);
    const onDisk = await Deno.readFile(`${root}/restored/shop-1/creds.json`);
    assert.notDeepEqual(onDisk, creds, "still encrypted");
    const restored = await open(`${root}/restored`);
    try {
      assert.deepEqual(
        await restored.auth(singleOwnerFence("shop-1" as SessionId)).read("creds.json"),
        creds,
      );
    } finally {
      await restored.close();
    }
  });
});

Deno.test("a backup holds the message store, sealed, and a restore opens it with the key", async () => {
  await withTempDir(async (root) => {
    const sealer = createValueSealer(new Uint8Array(32).fill(5));
    const retention = { maxAgeMs: 86_400_000, maxBytesPerSession: 1 << 20 };
    const open = async (dataDir: string) => {
      const store = new FileMessageStore({ dataDir, logger: testLogger(), retention, sealer });
      await store.open();
      return store;
    };
    const sessionId = "shop-1" as SessionId;
    const message = storedText("M1", Date.now());
    const live = await open(`${root}/data`);
    await live.put({ sessionId, epoch: 0 }, [message]);
    // Taken while the store is open, as `deno task backup` runs beside the gateway.
    await createBackup(`${root}/data`, `${root}/backup.tar`);
    await live.close();
    await restoreBackup(`${root}/backup.tar`, `${root}/restored`);
    const restored = await open(`${root}/restored`);
    assert.deepEqual(await restored.get(sessionId, "M1"), message);
    await restored.close();
  });
});
