/**
 * Headless Chromium for browser tests, driven by playwright-core (which never downloads a
 * browser): `CHROMIUM_PATH` when set, else Debian's package at `/usr/bin/chromium`, else the build
 * that the npm package `@sparticuz/chromium` ships (Linux x64). Where none runs, browser tests
 * are ignored with the reason (see `test_requirements.ts`).
 */
import { type Browser, chromium } from "playwright-core";
import { unpackBundledChromium } from "./bundled_chromium.ts";
import { REPO_ROOT } from "./child_process.ts";
import { defineRequirement, type ProbeResult } from "./test_requirements.ts";

/** Where browser tests leave screenshots (git-ignored). */
export const ARTIFACTS_DIR = `${REPO_ROOT}test-artifacts`;

/** A Chromium that starts here: its executable and what it needs in its environment. */
export interface ChromiumBuild {
  executablePath: string;
  env: Record<string, string>;
}

const DEBIAN_CHROMIUM = "/usr/bin/chromium";

/** Chromium, for tests that drive a real browser. */
export const chromiumRequirement = defineRequirement<ChromiumBuild>({
  name: "Chromium",
  hint: "Install Debian's package (sudo apt-get install chromium; .ci/run does it), " +
    "set CHROMIUM_PATH to a Chromium binary, or run `deno install` on Linux x64 " +
    "for the build inside the npm package @sparticuz/chromium",
  probe: findChromium,
});

async function findChromium(): Promise<ProbeResult<ChromiumBuild>> {
  const configured = Deno.env.get("CHROMIUM_PATH");
  if (configured) return await tryBuild("CHROMIUM_PATH", configured, {});
  if (await isFile(DEBIAN_CHROMIUM)) return await tryBuild("Debian's", DEBIAN_CHROMIUM, {});
  try {
    const bundled = await unpackBundledChromium();
    return await tryBuild(
      `@sparticuz/chromium ${bundled.version}'s`,
      bundled.executablePath,
      bundled.env,
    );
  } catch (error) {
    return {
      met: false,
      reason: `no CHROMIUM_PATH, no ${DEBIAN_CHROMIUM}, and the npm package's build is not ` +
        `usable (${error instanceof Error ? error.message : error})`,
    };
  }
}

/** Runs `--version`: a binary that is there but cannot start (missing libraries) is no Chromium. */
async function tryBuild(
  label: string,
  executablePath: string,
  env: Record<string, string>,
): Promise<ProbeResult<ChromiumBuild>> {
  if (!(await isFile(executablePath))) {
    return { met: false, reason: `${label} ${executablePath} is not a file` };
  }
  let run: Deno.CommandOutput;
  try {
    run = await new Deno.Command(executablePath, {
      args: ["--headless", "--no-sandbox", "--version"],
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
  } catch (error) {
    return { met: false, reason: `${label} ${executablePath} does not start: ${error}` };
  }
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim();
  if (!run.success) {
    const stderr = text(run.stderr).slice(0, 300);
    return { met: false, reason: `${label} ${executablePath} does not start: ${stderr}` };
  }
  return { met: true, value: { executablePath, env }, description: `${label} ${text(run.stdout)}` };
}

async function isFile(path: string): Promise<boolean> {
  return (await Deno.stat(path).catch(() => null))?.isFile ?? false;
}

/**
 * Launches headless Chromium with the flags a machine without internet needs: no background
 * networking, updates, sync or QUIC (each would try to reach Google), and no sandbox (tests
 * often run as root).
 *
 * @example
 * ```ts
 * const browser = await launchChromium(build);
 * try { const page = await browser.newPage(); } finally { await browser.close(); }
 * ```
 */
export async function launchChromium(build: ChromiumBuild): Promise<Browser> {
  return await chromium.launch({
    executablePath: build.executablePath,
    env: { ...Deno.env.toObject(), ...build.env },
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
