import { strict as assert } from "node:assert";
import { runTask } from "../support/backup_tasks.ts";
import { openCoreApp, requestJson, writeFakeCreds } from "../support/core_app.ts";
import { spawnGateway } from "../support/gateway_process.ts";
import { snapshotTree, withTempDir } from "../support/temp_dir.ts";

const processTest = { sanitizeOps: false, sanitizeResources: false };

/** Nothing leaves the machine: WhatsApp is a closed port on the loopback interface. */
const OFFLINE = { WA_WS_URL: "ws://127.0.0.1:9" };

/** The tree as a backup keeps it: no lock file. */
async function treeWithoutLock(dir: string): Promise<Record<string, string>> {
  const { ".lock": _lock, ...rest } = await snapshotTree(dir);
  return rest;
}

Deno.test(
  "deno task backup archives a data directory while the gateway runs; restore brings it back",
  processTest,
  async () => {
    await withTempDir(async (root) => {
      const dataDir = `${root}/data`;
      const core = await openCoreApp(dataDir);
      for (const id of ["shop-1", "shop-2"]) {
        assert.equal((await requestJson(core.app, "POST", "/api/sessions", { id })).status, 201);
        await requestJson(core.app, "POST", `/api/sessions/${id}/stop`);
      }
      await core.close();
      for (const id of ["shop-1", "shop-2"]) await writeFakeCreds(dataDir, id);
      await Deno.writeTextFile(`${dataDir}/shop-1/pre-key-1.json`, '{"keyId":1}');

      const gateway = await spawnGateway({ dataDir, env: OFFLINE });
      let before: Record<string, string>;
      try {
        const ready = await fetch(`${gateway.url}/ready`);
        await ready.body?.cancel();
        before = await treeWithoutLock(dataDir);
        const backup = await runTask("backup", [`${root}/gateway.tar`], {
          SESSIONS_DATA_PATH: dataDir,
        });
        assert.equal(backup.code, 0, backup.stderr);
        // Metadata, two creds, a pre-key and the webhook outbox's two logs.
        assert.match(backup.stdout, /backed up 6 file\(s\).*2 session folder\(s\)/);
        assert.deepEqual(await treeWithoutLock(dataDir), before, "the gateway was idle");
        // The lock was held by the gateway the whole time.
        const health = await fetch(`${gateway.url}/health`);
        assert.equal(health.status, 200);
        await health.body?.cancel();
      } finally {
        gateway.kill("SIGTERM");
        await gateway.exited;
      }

      const restored = await runTask("restore", [`${root}/gateway.tar`, `${root}/moved`]);
      assert.equal(restored.code, 0, restored.stderr);
      assert.deepEqual(await snapshotTree(`${root}/moved`), before);

      const again = await runTask("restore", [`${root}/gateway.tar`, `${root}/moved`]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /not empty/);

      const moved = await openCoreApp(`${root}/moved`);
      try {
        assert.deepEqual(moved.restoreReport.restored.sort(), ["shop-1", "shop-2"]);
        assert.deepEqual(
          (await moved.manager.list()).map((s) => [s.id, s.desiredState]).sort(),
          [["shop-1", "stopped"], ["shop-2", "stopped"]],
        );
      } finally {
        await moved.close();
      }
    });
  },
);

Deno.test(
  "deno task backup and restore explain their usage and refuse bad input",
  processTest,
  async () => {
    await withTempDir(async (root) => {
      const usage = await runTask("backup", []);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /Usage/);
      const missing = await runTask("backup", [`${root}/b.tar`], {
        SESSIONS_DATA_PATH: `${root}/none`,
      });
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /does not exist/);
      await Deno.writeTextFile(`${root}/junk.tar`, "not a tar at all");
      const junk = await runTask("restore", [`${root}/junk.tar`, `${root}/out`]);
      assert.equal(junk.code, 1);
      assert.match(junk.stderr, /not a readable backup/);
    });
  },
);
