import assert from "node:assert/strict";
import { readTar, type TarEntry, TarFormatError, TarWriter } from "../../../src/backup/tar.ts";
import { withTempDir } from "../../support/temp_dir.ts";

async function archive(build: (tar: TarWriter) => Promise<void>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const tar = new TarWriter((bytes) => {
    chunks.push(bytes.slice());
    return Promise.resolve();
  });
  await build(tar);
  await tar.finish();
  const result = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    result.set(chunk, offset);
    offset += chunk.length;
  }
  return result;
}

function reader(bytes: Uint8Array): (n: number) => Promise<Uint8Array> {
  let offset = 0;
  return (n) => {
    const slice = bytes.subarray(offset, offset + n);
    offset += slice.length;
    return Promise.resolve(slice);
  };
}

async function entries(bytes: Uint8Array): Promise<[TarEntry, string][]> {
  const result: [TarEntry, string][] = [];
  await readTar(reader(bytes), (entry, data) => {
    result.push([entry, new TextDecoder().decode(data)]);
    return Promise.resolve();
  });
  return result;
}

const LONG_NAME = `data/shop-1/${"app-state-sync-key-".repeat(8)}é.json`;

async function sample(): Promise<Uint8Array> {
  return await archive(async (tar) => {
    await tar.directory("data", 0o700, 1_700_000_000);
    await tar.file("data/empty.json", new Uint8Array(), 0o600, 1_700_000_001);
    await tar.file("data/block.bin", new Uint8Array(512).fill(65), 0o600, 0);
    await tar.file(LONG_NAME, new TextEncoder().encode('{"long":true}'), 0o640, 5);
  });
}

Deno.test("readTar() reads back what TarWriter wrote, long and non-ASCII names included", async () => {
  const read = await entries(await sample());
  assert.deepEqual(read.map(([e, text]) => [e.path, e.type, e.mode, e.mtime, text.length]), [
    ["data", "directory", 0o700, 1_700_000_000, 0],
    ["data/empty.json", "file", 0o600, 1_700_000_001, 0],
    ["data/block.bin", "file", 0o600, 0, 512],
    [LONG_NAME, "file", 0o640, 5, 13],
  ]);
  assert.equal(read[3][1], '{"long":true}');
});

Deno.test("readTar() rejects a damaged header and a truncated archive", async () => {
  const bytes = await sample();
  const damaged = bytes.slice();
  damaged[600] ^= 0xff; // inside the second header's name
  await assert.rejects(() => entries(damaged), TarFormatError);
  await assert.rejects(() => entries(bytes.subarray(0, 1000)), TarFormatError);
  await assert.rejects(() => entries(bytes.subarray(0, bytes.length - 1024)), TarFormatError);
});

Deno.test("readTar() refuses paths that would escape the target directory", async () => {
  for (const evil of ["../evil", "/etc/passwd", "data/../../x", "data//x"]) {
    // Same length as a real name, patched in with a recomputed checksum.
    const bytes = await archive((tar) => tar.file("data/placeholder-name", new Uint8Array(1)));
    bytes.fill(0, 0, 100);
    bytes.set(new TextEncoder().encode(evil), 0);
    bytes.fill(0x20, 148, 156);
    const sum = bytes.subarray(0, 512).reduce((a, b) => a + b, 0);
    bytes.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, "0")}\u0000 `), 148);
    await assert.rejects(() => entries(bytes), TarFormatError, evil);
  }
  await assert.rejects(
    () => archive((tar) => tar.file("../evil", new Uint8Array(1))),
    TarFormatError,
  );
});

const hasTar = await new Deno.Command("tar", { args: ["--version"], stdout: "null" }).output()
  .then((output) => output.success, () => false);

Deno.test({
  name: "the system's tar extracts a TarWriter archive identically",
  ignore: !hasTar,
  fn: () =>
    withTempDir(async (dir) => {
      await Deno.writeFile(`${dir}/a.tar`, await sample());
      const out = await new Deno.Command("tar", { args: ["-xf", "a.tar"], cwd: dir }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      assert.equal(await Deno.readTextFile(`${dir}/${LONG_NAME}`), '{"long":true}');
      assert.equal((await Deno.readFile(`${dir}/data/block.bin`)).length, 512);
      assert.equal((await Deno.stat(`${dir}/${LONG_NAME}`)).mode! & 0o777, 0o640);
    }),
});
