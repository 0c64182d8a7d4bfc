import { strict as assert } from "node:assert";
import { withTempDir } from "../../support/temp_dir.ts";

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

Deno.test("withTempDir() removes its directory when the test fails, and passes the error on", async () => {
  let seen = "";
  await assert.rejects(
    withTempDir(async (dir) => {
      seen = dir;
      await Deno.mkdir(`${dir}/shop-1/keys`, { recursive: true });
      await Deno.writeTextFile(`${dir}/shop-1/creds.json`, "{}");
      throw new Error("the test failed");
    }),
    /the test failed/,
  );
  assert.ok(seen.includes("wa-gateway-test-"));
  assert.equal(await exists(seen), false);
});

Deno.test("withTempDir() removes its directory even while a late writer still adds files", async () => {
  let seen = "";
  let writer: Promise<number> | undefined;
  await withTempDir(async (dir) => {
    seen = dir;
    await Deno.writeTextFile(`${dir}/creds.json`, "{}");
    // Like Baileys after end(): files keep appearing for a moment after the test is done.
    const write = async (name: string) => {
      const started = Date.now();
      let writes = 0;
      while (Date.now() - started < 300) {
        try {
          await Deno.writeTextFile(`${dir}/device-list-${name}-${writes}.json`, "[]");
          writes++;
        } catch {
          break; // the directory is gone
        }
      }
      return writes;
    };
    writer = Promise.all(["a", "b", "c", "d"].map(write)).then((counts) =>
      counts.reduce((a, b) => a + b)
    );
  });
  assert.ok((await writer!) > 0);
  assert.equal(await exists(seen), false);
});
