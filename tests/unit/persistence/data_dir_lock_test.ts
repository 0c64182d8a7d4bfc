import assert from "node:assert/strict";
import { DataDirectoryLockedError, PersistenceError } from "../../../src/domain/errors.ts";
import { DataDirLock } from "../../../src/persistence/data_dir_lock.ts";
import { withTempDir } from "../../support/persistence_fixtures.ts";

Deno.test("DataDirLock.acquire() fails at once with DataDirectoryLockedError while the lock is held", async () => {
  await withTempDir(async (dir) => {
    const held = await DataDirLock.acquire(`${dir}/.lock`);
    try {
      const started = performance.now();
      await assert.rejects(DataDirLock.acquire(`${dir}/.lock`), (error) => {
        assert.ok(error instanceof DataDirectoryLockedError);
        assert.equal(error.lockPath, `${dir}/.lock`);
        assert.equal(error.code, "data_directory_locked");
        return true;
      });
      assert.ok(performance.now() - started < 1000, "must not wait for the holder");
    } finally {
      await held.release();
    }
  });
});

Deno.test("DataDirLock.release() lets the next holder in, and releasing twice is harmless", async () => {
  await withTempDir(async (dir) => {
    const first = await DataDirLock.acquire(`${dir}/.lock`);
    await first.release();
    await first.release();
    assert.equal(first.held, false);
    const second = await DataDirLock.acquire(`${dir}/.lock`);
    assert.equal(second.held, true);
    await second.release();
  });
});

Deno.test("DataDirLock.acquire() refuses a lock file that is a symlink", async () => {
  await withTempDir(async (root) => {
    await Deno.writeTextFile(`${root}/outside`, "keep");
    await Deno.symlink(`${root}/outside`, `${root}/.lock`);
    await assert.rejects(DataDirLock.acquire(`${root}/.lock`), PersistenceError);
    assert.equal(await Deno.readTextFile(`${root}/outside`), "keep");
  });
});
