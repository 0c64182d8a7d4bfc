/** readRegularFile() answers the same on the thread pool and with blocking calls. */
import assert from "node:assert/strict";
import { readRegularFile } from "../../../src/persistence/read_regular_file.ts";
import { withTempDir } from "../../support/persistence_fixtures.ts";

for (const blocking of [false, true]) {
  Deno.test(`readRegularFile(${blocking ? "blocking" : "thread pool"}) reads regular files only, never through a symlink`, async () => {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/creds.json`, "secret");
      await Deno.writeFile(`${dir}/big.bin`, new Uint8Array(70_000).fill(7));
      await Deno.symlink(`${dir}/creds.json`, `${dir}/link.json`);
      await Deno.mkdir(`${dir}/folder`);
      const read = (name: string) => readRegularFile(`${dir}/${name}`, { blocking });

      const creds = await read("creds.json");
      assert.equal(creds.kind, "file");
      assert.equal(creds.kind === "file" && new TextDecoder().decode(creds.data), "secret");
      const big = await read("big.bin");
      assert.deepEqual(big.kind === "file" && big.data, new Uint8Array(70_000).fill(7));
      assert.equal((await read("missing.json")).kind, "missing");
      assert.equal((await read("link.json")).kind, "not_regular");
      assert.equal((await read("folder")).kind, "not_regular");
      await assert.rejects(read("creds.json/inside"), Deno.errors.NotADirectory);
    });
  });
}
