/**
 * The dashboard in headless Chromium against a gateway process on the fake WhatsApp server, for
 * browser tests: page errors and console errors are collected, confirmation dialogs accepted.
 */
import { strict as assert } from "node:assert";
import type { Browser, Page } from "playwright-core";
import { type ChromiumBuild, launchChromium } from "./browser.ts";
import { startFakeGateway, withFakeServer } from "./fake_gateway.ts";
import type { FakeWhatsApp } from "./fake_whatsapp/server.ts";
import type { GatewayClient } from "./gateway_client.ts";
import type { GatewayProcess } from "./gateway_process.ts";

export interface Dashboard {
  fake: FakeWhatsApp;
  gateway: GatewayProcess;
  client: GatewayClient;
  /** The dashboard, loaded and not signed in; confirmation dialogs are accepted. */
  page: Page;
  /** Script errors and console errors the page reported. */
  problems: string[];
}

/**
 * Runs `fn` with a gateway (with `env` added) on the fake server and its dashboard open in
 * headless Chromium; everything is closed afterwards.
 *
 * @example
 * ```ts
 * await withDashboard(chromium, async ({ page, gateway }) => { await signIn(page, gateway.apiKey!); });
 * ```
 */
export function withDashboard(
  build: ChromiumBuild,
  fn: (dashboard: Dashboard) => Promise<void>,
  env: Record<string, string> = {},
): Promise<void> {
  return withFakeServer(async (fake, dataDir) => {
    const { gateway, client } = await startFakeGateway(fake, dataDir, env);
    const browser = await launchChromium(build);
    try {
      const { page, problems } = await openDashboard(browser, gateway.url);
      await fn({ fake, gateway, client, page, problems });
    } finally {
      await browser.close();
      await gateway.dispose();
    }
  });
}

/**
 * Opens the dashboard of the gateway at `url` in a new page of `browser`: script and console
 * errors are collected in `problems`, confirmation dialogs accepted.
 *
 * @example
 * ```ts
 * const { page, problems } = await openDashboard(browser, gateway.url);
 * ```
 */
export async function openDashboard(
  browser: Browser,
  url: string,
): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("dialog", (dialog) => dialog.accept());
  const response = await page.goto(`${url}/`);
  assert.equal(response?.status(), 200);
  return { page, problems };
}

/** Types the API key into the sign-in form and submits it. */
export async function signIn(page: Page, apiKey: string): Promise<void> {
  await page.fill("#api-key", apiKey);
  await page.click("#login-form button[type=submit]");
}
