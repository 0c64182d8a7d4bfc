/**
 * Headless Chromium for browser tests: the Debian package (`/usr/bin/chromium`, or
 * `CHROMIUM_PATH`) driven by playwright-core, which never downloads a browser of its own.
 */
import { type Browser, chromium } from "playwright-core";
import { REPO_ROOT } from "./child_process.ts";

/** Where browser tests leave screenshots (git-ignored). */
export const ARTIFACTS_DIR = `${REPO_ROOT}test-artifacts`;

/**
 * Launches headless Chromium with the flags a machine without internet needs: no background
 * networking, updates, sync or QUIC (each would try to reach Google), and no sandbox (tests
 * often run as root).
 *
 * @example
 * ```ts
 * const browser = await launchChromium();
 * try { const page = await browser.newPage(); } finally { await browser.close(); }
 * ```
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
  if (!(await Deno.stat(executablePath).catch(() => null))?.isFile) {
    throw new Error(
      `Chromium not found at ${executablePath}: install Debian's package ` +
        "(sudo apt-get install chromium; .ci/run does it) or set CHROMIUM_PATH",
    );
  }
  return await chromium.launch({
    executablePath,
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
