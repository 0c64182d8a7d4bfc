/**
 * The dashboard in a real browser (headless Chromium), against a gateway process and the fake
 * WhatsApp server: sign in with the API key, create a session, see its QR code, link it with the
 * simulated phone, see it connected, delete it; and changes made elsewhere shown as they happen.
 * Screenshots are left in `test-artifacts/`.
 */
import { strict as assert } from "node:assert";
import { ARTIFACTS_DIR, chromiumRequirement } from "../support/browser.ts";
import { signIn, withDashboard } from "../support/dashboard_page.ts";
import { testsRequiring } from "../support/test_requirements.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const browserTest = await testsRequiring(chromiumRequirement);

browserTest(
  "the dashboard links a phone: API key, create, QR rendered, scanned, connected, deleted",
  e2e,
  (chromium) =>
    withDashboard(chromium, async ({ fake, gateway, client, page, problems }) => {
      // A wrong key is refused with a message, and the key is asked for again.
      await signIn(page, "not-the-key-0123456789");
      await page.waitForSelector("#error:has-text('API key was refused')");
      assert.ok(await page.isVisible("#login"));

      await signIn(page, gateway.apiKey!);
      await page.waitForSelector("#sessions:not([hidden])");
      problems.length = 0; // the refused key's 401 was expected; nothing else may fail
      // Kept for this tab only, never in the URL.
      assert.equal(
        await page.evaluate(() => sessionStorage.getItem("wa-gateway-api-key")),
        gateway.apiKey,
      );
      assert.ok(!page.url().includes(gateway.apiKey!));

      await page.fill("#new-id", "shop-1");
      await page.fill("#new-name", "Front desk");
      await page.click("#create-form button[type=submit]");

      // The QR code renders as an image with a real size.
      const qrImage = page.locator("#qr-image");
      await qrImage.waitFor({ state: "visible", timeout: 15_000 });
      // Loaded and decoded, not just present: polled with the element itself (the page's
      // Content-Security-Policy forbids the string evaluation `waitForFunction` uses).
      const loaded = () =>
        qrImage.evaluate((image: { complete: boolean; naturalWidth: number }) =>
          image.complete && image.naturalWidth > 0
        );
      for (let tries = 0; !(await loaded()); tries++) {
        assert.ok(tries < 100, "the QR image never loaded");
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const box = await qrImage.boundingBox();
      assert.ok(box && box.width > 100 && box.height > 100, `QR box ${JSON.stringify(box)}`);
      await page.waitForSelector("tr[data-session='shop-1'] [data-status='qr']");
      await Deno.mkdir(ARTIFACTS_DIR, { recursive: true });
      await page.screenshot({ path: `${ARTIFACTS_DIR}/dashboard-qr.png` });

      // The simulated phone scans the code the gateway is showing.
      const qr = await client.waitForQr("shop-1");
      await fake.pairWithQr(qr, { phoneNumber: "15550001111", pushName: "Front phone" });
      await page.waitForSelector("#qr-status:has-text('Linked as +15550001111')", {
        timeout: 20_000,
      });
      await page.waitForSelector("tr[data-session='shop-1'] [data-status='connected']");
      assert.equal(await qrImage.isVisible(), false, "the QR code is gone once linked");
      assert.equal(
        await page.textContent("tr[data-session='shop-1'] td:nth-child(2)"),
        "Front desk",
      );
      await page.screenshot({ path: `${ARTIFACTS_DIR}/dashboard-connected.png` });

      // Delete (the confirmation is accepted): logged out on the fake server, row gone.
      await page.click("#qr-close");
      await page.click("tr[data-session='shop-1'] button:has-text('Delete')");
      await page.waitForSelector("tr[data-session='shop-1']", { state: "detached" });
      const list = await client.json<{ sessions: unknown[] }>("GET", "/api/sessions");
      assert.deepEqual(list.body.sessions, []);
      assert.deepEqual(problems, []);
    }),
);

browserTest(
  "the dashboard links a phone with a pairing code instead of the QR code",
  e2e,
  (chromium) =>
    withDashboard(chromium, async ({ fake, gateway, page, problems }) => {
      await signIn(page, gateway.apiKey!);
      await page.fill("#new-id", "kiosk-2");
      await page.click("#create-form button[type=submit]");
      await page.locator("#qr-image").waitFor({ state: "visible", timeout: 15_000 });

      // A malformed number is refused with the API's message, and nothing is asked of WhatsApp.
      await page.fill("#pairing-phone", "call me");
      await page.click("#pairing-form button[type=submit]");
      await page.waitForSelector("#error:has-text('phone number')");
      assert.match(await page.textContent("#error") ?? "", /\(invalid_input\)$/);
      problems.length = 0; // the refused number's 400 was expected; nothing else may fail

      await page.fill("#pairing-phone", "+15550002222");
      await page.click("#pairing-form button[type=submit]");
      await page.waitForSelector("#pairing-code-line:not([hidden])", { timeout: 10_000 });
      const shown = await page.textContent("#pairing-code");
      assert.match(shown ?? "", /^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
      await Deno.mkdir(ARTIFACTS_DIR, { recursive: true });
      await page.screenshot({
        path: `${ARTIFACTS_DIR}/dashboard-pairing-code.png`,
        fullPage: true,
      });

      await fake.pairWithCode(shown!.replace("-", ""), { phoneNumber: "15550002222" });
      await page.waitForSelector("#qr-status:has-text('Linked as +15550002222')", {
        timeout: 20_000,
      });
      assert.equal(await page.isVisible("#pairing-form"), false);
      assert.deepEqual(problems, []);
    }),
);

browserTest(
  "the dashboard shows changes made elsewhere as they happen, from the event stream",
  e2e,
  (chromium) =>
    withDashboard(chromium, async ({ fake, gateway, client, page, problems }) => {
      await signIn(page, gateway.apiKey!);
      await page.waitForSelector("body[data-live='true'] #live:not([hidden])");

      await gateway.waitForLog((line) => line.msg === "connection workers ready");

      // While the stream is open the list is re-read only every 30 s: a change that shows
      // well within that came through the stream.
      const soon = { timeout: 10_000 };
      await client.createSession("remote-1", "Made over REST");
      const qr = await client.waitForQr("remote-1");
      await page.waitForSelector("tr[data-session='remote-1'] [data-status='qr']", soon);
      await fake.pairWithQr(qr, { phoneNumber: "15550003333" });
      await client.waitForStatus("remote-1", "connected");
      await page.waitForSelector("tr[data-session='remote-1'] [data-status='connected']", soon);
      await client.json("DELETE", "/api/sessions/remote-1");
      await page.waitForSelector("tr[data-session='remote-1']", { state: "detached", ...soon });
      assert.deepEqual(problems, []);
    }),
);
