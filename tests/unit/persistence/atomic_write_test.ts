import assert from "node:assert/strict";
import { syncedAtAcks } from "../../support/crash_consistency/harness.ts";
import {
  createDirectoryDurably,
  removeStaleTempFiles,
  writeFileAtomic,
  writeFilesAtomic,
} from "../../../src/persistence/atomic_write.ts";
import { withTempDir } from "../../support/persistence_fixtures.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const names = async (dir: string) =>
  (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();

Deno.test("writeFileAtomic() replaces a file's content and leaves no temporary file", async () => {
  await withTempDir(async (dir) => {
    await writeFileAtomic(`${dir}/a.json`, bytes("old"));
    await writeFileAtomic(`${dir}/a.json`, bytes("new"));
    assert.deepEqual(await Deno.readTextFile(`${dir}/a.json`), "new");
    assert.deepEqual(await names(dir), ["a.json"]);
  });
});

Deno.test("writeFileAtomic() creates files readable by the owner only", async () => {
  await withTempDir(async (dir) => {
    await writeFileAtomic(`${dir}/secret.json`, bytes("{}"));
    assert.deepEqual((await Deno.stat(`${dir}/secret.json`)).mode! & 0o777, 0o600);
  });
});

Deno.test("writeFileAtomic() replaces a symlink at the target instead of writing through it", async () => {
  await withTempDir(async (root) => {
    await Deno.mkdir(`${root}/data`);
    await Deno.writeTextFile(`${root}/outside.txt`, "keep");
    await Deno.symlink(`${root}/outside.txt`, `${root}/data/a.json`);
    await writeFileAtomic(`${root}/data/a.json`, bytes("new"));
    assert.deepEqual(await Deno.readTextFile(`${root}/outside.txt`), "keep");
    assert.ok((await Deno.lstat(`${root}/data/a.json`)).isFile);
  });
});

Deno.test("writeFilesAtomic() writes and deletes a batch, ignoring deletions of missing files", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/gone.json`, "x");
    const changes = new Map<string, Uint8Array | null>([
      ["gone.json", null],
      ["never-existed.json", null],
    ]);
    for (let i = 0; i < 20; i++) changes.set(`pre-key-${i}.json`, bytes(`${i}`));
    await writeFilesAtomic(dir, changes, { concurrency: 3 });
    assert.deepEqual(
      await names(dir),
      Array.from({ length: 20 }, (_, i) => `pre-key-${i}.json`).sort(),
    );
    assert.deepEqual(await Deno.readTextFile(`${dir}/pre-key-7.json`), "7");
  });
});

Deno.test("writeFilesAtomic() cleans up its temporary files when the batch fails", async () => {
  await withTempDir(async (dir) => {
    // A non-empty directory cannot be replaced by a file: the rename fails.
    await Deno.mkdir(`${dir}/b.json`);
    await Deno.writeTextFile(`${dir}/b.json/inside`, "x");
    const changes = new Map([["a.json", bytes("a")], ["b.json", bytes("b")], [
      "c.json",
      bytes("c"),
    ]]);
    await assert.rejects(writeFilesAtomic(dir, changes));
    assert.ok(
      (await names(dir)).every((name) => !name.startsWith(".tmp-")),
      String(await names(dir)),
    );
  });
});

Deno.test("removeStaleTempFiles() removes temporary files and nothing else", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/.tmp-1234`, "half");
    await Deno.writeTextFile(`${dir}/.tmp-5678`, "half");
    await Deno.writeTextFile(`${dir}/creds.json`, "{}");
    await Deno.mkdir(`${dir}/.tmp-dir`);
    assert.deepEqual(await removeStaleTempFiles(dir), 2);
    assert.deepEqual(await names(dir), [".tmp-dir", "creds.json"]);
  });
});

Deno.test("removeStaleTempFiles() returns 0 for a directory that does not exist", async () => {
  await withTempDir(async (dir) => {
    assert.deepEqual(await removeStaleTempFiles(`${dir}/missing`), 0);
  });
});

Deno.test("writeFilesAtomic() with durable: false replaces and deletes the same way", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.json`, "old");
    await Deno.writeTextFile(`${dir}/b.json`, "gone");
    await writeFilesAtomic(dir, new Map([["a.json", bytes("new")], ["b.json", null]]), {
      durable: false,
    });
    assert.deepEqual(await names(dir), ["a.json"]);
    assert.equal(await Deno.readTextFile(`${dir}/a.json`), "new");
    assert.equal((await Deno.stat(`${dir}/a.json`)).mode! & 0o777, 0o600);
  });
});

Deno.test("syncFiles() makes the files' content durable and skips those that are gone", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  await withTempDir(async (root) => {
    await Deno.mkdir(`${root}/d`);
    const probe = new URL(
      "../../support/crash_consistency/probes/durability_probe_child.ts",
      import.meta.url,
    );
    // A crash right after syncFiles() resolved keeps only what was synced (strace tells).
    const [synced] = await syncedAtAcks(probe, root, [root, "sync-files"]);
    assert.equal(synced.value.op, "synced");
    assert.equal(new TextDecoder().decode(synced.tree.files.get("d/a.json")), "a");
  });
});

Deno.test("createDirectoryDurably() creates missing parents, private, and leaves what exists alone", async () => {
  // That each parent's entry is synced is the crash harness's to prove (metadata workload).
  await withTempDir(async (dir) => {
    await createDirectoryDurably(`${dir}/a/b/c`);
    assert.equal((await Deno.stat(`${dir}/a/b/c`)).mode! & 0o777, 0o700);
    await Deno.writeTextFile(`${dir}/a/b/keep`, "kept");
    await createDirectoryDurably(`${dir}/a/b`);
    assert.deepEqual(await names(`${dir}/a/b`), ["c", "keep"]);
  });
});
