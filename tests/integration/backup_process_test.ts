import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { verifyArchive } from "../../src/backup/backup_archive.ts";
import { runTask } from "../support/backup_tasks.ts";
import { linkSession, startFakeGateway, withFakeServer } from "../support/fake_gateway.ts";
import { stopGracefully } from "../support/gateway_process.ts";
import { filesBelow, withTempDir } from "../support/temp_dir.ts";

const processTest = { sanitizeOps: false, sanitizeResources: false };

const CONTACT = "15550009999";

Deno.test(
  "deno task backup while linked sessions write keys and texts flow; restore writes every file of the manifest",
  processTest,
  async () => {
    await withFakeServer(async (fake, dataDir) => {
      await withTempDir(async (elsewhere) => {
        const archive = `${elsewhere}/gateway.tar`;
        const { gateway, client } = await startFakeGateway(fake, dataDir);
        try {
          await linkSession(client, fake, "shop-1", "15550001111");
          await linkSession(client, fake, "shop-2", "15550002222");
          fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
          // Texts both ways on both sessions while the backup runs: keys are written all along.
          let flowing = true;
          let exchanged = 0;
          const flow = Promise.all(["15550001111", "15550002222"].map(async (account, i) => {
            while (flowing) {
              const sent = await client.json("POST", `/api/sessions/shop-${i + 1}/messages`, {
                to: CONTACT,
                type: "text",
                text: `out ${exchanged}`,
              });
              assert.equal(sent.status, 201);
              await fake.deliverText({ from: CONTACT, to: account, text: `in ${exchanged}` });
              exchanged++;
            }
          }));
          let backup;
          let during = 0;
          try {
            while (exchanged < 2) {
              // A flow that fails ends the wait (and the test, below) instead of hanging it.
              await Promise.race([flow, new Promise((resolve) => setTimeout(resolve, 20))]);
            }
            const before = exchanged;
            backup = await runTask("backup", [archive], { SESSIONS_DATA_PATH: dataDir });
            during = exchanged - before;
          } finally {
            flowing = false;
            await flow;
          }
          assert.equal(backup.code, 0, backup.stderr);
          assert.match(backup.stdout, /2 session folder\(s\)/);
          assert.ok(during >= 1, "texts went both ways while the backup ran");
          await stopGracefully(gateway);
        } finally {
          await gateway.dispose();
        }

        const moved = `${elsewhere}/moved`;
        const restored = await runTask("restore", [archive, moved]);
        assert.equal(restored.code, 0, restored.stderr);
        // Every file of the manifest, as the manifest says, and nothing else.
        const manifest = await verifyArchive(archive);
        const onDisk = [...(await filesBelow(moved)).keys()];
        assert.deepEqual(onDisk.sort(), manifest.files.map((file) => file.path).sort());
        for (const file of manifest.files) {
          const data = await Deno.readFile(`${moved}/${file.path}`);
          assert.equal(data.length, file.size, file.path);
          assert.equal(createHash("sha256").update(data).digest("hex"), file.sha256, file.path);
        }
        const again = await runTask("restore", [archive, moved]);
        assert.equal(again.code, 1);
        assert.match(again.stderr, /not empty/);

        // The restored directory is a gateway's: both sessions log in from it without a QR.
        const second = await startFakeGateway(fake, moved);
        try {
          for (const id of ["shop-1", "shop-2"]) {
            await second.client.waitForStatus(id, "connected", 20_000);
          }
          const statuses = second.gateway.logs
            .filter((line) => line.msg === "session status changed")
            .map((line) => line.status);
          assert.ok(!statuses.includes("qr"), `no QR needed: ${statuses}`);
        } finally {
          await second.gateway.dispose();
        }
      });
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
