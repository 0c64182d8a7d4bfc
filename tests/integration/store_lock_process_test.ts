import assert from "node:assert/strict";
import { FileSessionStore } from "../../src/persistence/file_session_store.ts";
import { spawnDenoScript } from "../support/child_process.ts";
import { silentLogger, withTempDir } from "../support/persistence_fixtures.ts";

Deno.test("a second process cannot open a data directory in use, and fails with a clear error", async () => {
  await withTempDir(async (dataDir) => {
    const store = new FileSessionStore({ dataDir, logger: silentLogger });
    await store.open();
    try {
      const started = performance.now();
      const { code, stdout, stderr } = await spawnDenoScript(
        "open_store_child.ts",
        dataDir,
        [dataDir],
      ).output();
      const output = new TextDecoder().decode(stdout);
      assert.ok(output.trim(), `the child printed nothing: ${new TextDecoder().decode(stderr)}`);
      const result = JSON.parse(output);
      assert.equal(code, 3);
      assert.equal(result.opened, false);
      assert.equal(result.name, "DataDirectoryLockedError");
      assert.equal(result.code, "data_directory_locked");
      assert.match(result.message, /only one process may use a data directory/);
      assert.ok(performance.now() - started < 15_000, "the child failed fast, it did not wait");
    } finally {
      await store.close();
    }
    // Once released, another process can take it.
    const { code, stdout } = await spawnDenoScript("open_store_child.ts", dataDir, [dataDir])
      .output();
    assert.equal(code, 0, new TextDecoder().decode(stdout));
  });
});
