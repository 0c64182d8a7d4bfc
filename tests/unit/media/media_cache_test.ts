import { strict as assert } from "node:assert";
import { join } from "node:path";
import { MediaCache } from "../../../src/media/media_cache.ts";
import { withTempDir } from "../../support/temp_dir.ts";

Deno.test("uses within one millisecond keep their order: the file just used is not evicted", () =>
  withTempDir(async (dir) => {
    const realNow = Date.now;
    Date.now = () => 1_700_000_000_000; // every use below in the same millisecond
    try {
      const cache = new MediaCache(dir, 200);
      const admit = async (id: string) => {
        const file = join(dir, `${id}.download`);
        await Deno.writeFile(file, new Uint8Array(100));
        return await cache.admit("shop-1", id, file, 100);
      };
      await admit("A");
      await admit("B");
      assert.ok(await cache.lookup("shop-1", "A")); // A is now the most recent
      await admit("C"); // room for two: B goes
      assert.ok(await cache.lookup("shop-1", "A"), "A, used last, is kept");
      assert.equal(await cache.lookup("shop-1", "B"), undefined, "B, used least recently, went");
      assert.ok(await cache.lookup("shop-1", "C"));
    } finally {
      Date.now = realNow;
    }
  }));

Deno.test("files admitted at once stay within the cap: each sees the room the others took", () =>
  withTempDir(async (dir) => {
    const cache = new MediaCache(dir, 200);
    const kept = await Promise.all(["A", "B", "C"].map(async (id) => {
      const file = join(dir, `${id}.download`);
      await Deno.writeFile(file, new Uint8Array(100));
      return await cache.admit("shop-1", id, file, 100);
    }));
    assert.ok(kept.every((path) => path !== undefined), "each is admitted (the oldest then goes)");
    assert.equal(await cache.size(), 200);
    const onDisk = [...Deno.readDirSync(join(dir, ".media", "cache", "shop-1"))];
    assert.equal(onDisk.length, 2, "two files of 100 in a cache of 200");
  }));
