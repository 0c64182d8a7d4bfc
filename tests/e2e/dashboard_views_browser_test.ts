/**
 * The dashboard's operator views in a real browser (headless Chromium), against a gateway process
 * and the fake WhatsApp server: a session's detail (status history, last disconnect and why,
 * phone, uptime) and a test message from it; the live event log with its filters; a session's
 * webhooks (masked secrets) and the dead letters (inspect, retry, discard). Screenshots are left
 * in `test-artifacts/`.
 */
import { strict as assert } from "node:assert";
import { ARTIFACTS_DIR, chromiumRequirement } from "../support/browser.ts";
import { signIn, withDashboard } from "../support/dashboard_page.ts";
import { linkSession } from "../support/fake_gateway.ts";
import type { GatewayClient } from "../support/gateway_client.ts";
import { testsRequiring } from "../support/test_requirements.ts";
import { startWebhookReceiver } from "../support/webhook_receiver.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const browserTest = await testsRequiring(chromiumRequirement);
const ACCOUNT = "15550001111";
const CONTACT = "15550009999";
const SECRET = "dashboard-webhook-secret-0123";

async function screenshot(page: import("playwright-core").Page, name: string): Promise<void> {
  await Deno.mkdir(ARTIFACTS_DIR, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS_DIR}/${name}.png`, fullPage: true });
}

/** The dead letters the gateway holds now, over REST. */
async function deadLetters(client: GatewayClient): Promise<{ id: string }[]> {
  const { body } = await client.json<{ deadLetters: { id: string }[] }>(
    "GET",
    "/api/webhooks/dead-letters",
  );
  return body.deadLetters;
}

/** Waits (polling the API, as an operator would refresh) until `count` dead letters exist. */
async function waitForDeadLetters(client: GatewayClient, count: number): Promise<void> {
  for (let tries = 0; (await deadLetters(client)).length < count; tries++) {
    assert.ok(tries < 600, `never got ${count} dead letter(s)`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

browserTest(
  "session detail: status history, last disconnect and why, phone, uptime; a test message sent from it",
  e2e,
  (chromium) =>
    withDashboard(chromium, async ({ fake, gateway, client, page, problems }) => {
      fake.addContact({ phoneNumber: CONTACT, pushName: "Bob" });
      await linkSession(client, fake, "shop-1", ACCOUNT, "Front phone");
      await signIn(page, gateway.apiKey!);
      await page.waitForSelector("body[data-live='true']");
      await page.click("tr[data-session='shop-1'] button:has-text('Details')");

      await page.waitForSelector("#detail [data-fact='phone']:has-text('+15550001111')");
      await page.waitForSelector("#detail [data-fact='status']:has-text('connected')");
      assert.equal(await page.textContent("#detail [data-fact='push-name']"), "Front phone");
      assert.match(await page.textContent("#detail [data-fact='uptime']") ?? "", /^\d+ (s|min)/);
      await page.waitForSelector("#detail-history tr:has-text('connected')");

      // The connection drops: the page shows it reconnecting, then why it had dropped.
      await fake.dropConnection(ACCOUNT);
      await page.waitForSelector("#detail-history tr:has-text('reconnecting')", {
        timeout: 30_000,
      });
      await page.waitForSelector("#detail [data-fact='status']:has-text('connected')", {
        timeout: 30_000,
      });
      const why = await page.textContent("#detail [data-fact='last-disconnect']");
      assert.match(why ?? "", /^connection_(closed|lost)/);
      const reasonRow = await page.textContent(
        "#detail-history tr:has(td:nth-child(3):text-is('reconnecting'))",
      );
      assert.match(reasonRow ?? "", /connection_(closed|lost)/);

      await page.fill("#send-to", `+${CONTACT}`);
      await page.fill("#send-text", "Test from the dashboard");
      await page.click("#send-form button[type=submit]");
      await page.waitForSelector("#send-result:has-text('Sent:')", { timeout: 20_000 });
      await fake.waitForReceived((m) => m.text === "Test from the dashboard");
      await screenshot(page, "dashboard-session-detail");
      assert.deepEqual(problems, []);
    }),
);

browserTest(
  "the live event log shows the stream's events, filtered by session and by type",
  e2e,
  (chromium) =>
    withDashboard(chromium, async ({ gateway, client, page, problems }) => {
      await signIn(page, gateway.apiKey!);
      await page.waitForSelector("body[data-live='true']");
      await client.createSession("alpha", "Alpha");
      await client.createSession("beta", "Beta");
      const soon = { timeout: 20_000 };
      await page.waitForSelector("#event-rows tr[data-event-session='alpha']", soon);
      await page.waitForSelector("#event-rows tr[data-event-session='beta']", soon);
      await page.waitForSelector("#event-rows tr[data-event-type='session.qr']", soon);

      await page.fill("#event-session-filter", "alpha");
      assert.equal(await page.locator("#event-rows tr[data-event-session='beta']").count(), 0);
      assert.ok(await page.locator("#event-rows tr[data-event-session='alpha']").count() > 0);
      await page.selectOption("#event-type-filter", "session.qr");
      const types = await page.locator("#event-rows tr").evaluateAll((rows) =>
        rows.map((row) => (row as unknown as { dataset: { eventType: string } }).dataset.eventType)
      );
      assert.ok(types.length > 0);
      assert.deepEqual(new Set(types), new Set(["session.qr"]));
      await screenshot(page, "dashboard-event-log");

      await page.fill("#event-session-filter", "nobody");
      await page.waitForSelector("#events-empty:has-text('No event matches the filters.')");
      assert.deepEqual(problems, []);
    }),
);

browserTest(
  "a session's webhooks are added and removed with masked secrets; dead letters are inspected, retried, discarded",
  e2e,
  (chromium) => {
    const receiver = startWebhookReceiver({ secret: SECRET });
    receiver.respondWith(500);
    return withDashboard(chromium, async ({ gateway, client, page, problems }) => {
      await client.createSession("hooked", "Hooked");
      await signIn(page, gateway.apiKey!);
      await page.click("tr[data-session='hooked'] button:has-text('Details')");
      await page.waitForSelector("#webhooks-empty:not([hidden])");

      await page.fill("#webhook-url", receiver.url);
      await page.fill("#webhook-secret", SECRET);
      await page.fill("#webhook-events", "session.status");
      await page.click("#webhook-form button[type=submit]");
      const hookRow = `#webhook-rows tr[data-webhook='${receiver.url}']`;
      await page.waitForSelector(`${hookRow}:has-text('********')`);
      assert.ok(!(await page.content()).includes(SECRET), "the secret is never shown");
      const view = await client.session("hooked");
      assert.deepEqual(view?.webhooks, [{
        url: receiver.url,
        events: ["session.status"],
        secret: "********",
      }]);
      await screenshot(page, "dashboard-webhooks");

      // A status change is delivered, refused once, and becomes a dead letter.
      await client.json("POST", "/api/sessions/hooked/stop");
      await waitForDeadLetters(client, 1);
      await page.click("#dead-letters-refresh");
      const letter = "#dead-letter-rows tr[data-dead-letter]";
      await page.waitForSelector(letter);
      await page.click(`${letter} button:has-text('Inspect')`);
      const inspected = await page.textContent("#dead-letter-json") ?? "";
      assert.match(inspected, /"eventType": "session.status"/);
      assert.match(inspected, /"secret": "\*{8}"/);
      assert.ok(!inspected.includes(SECRET));
      await screenshot(page, "dashboard-dead-letters");

      // Retried once the receiver works again: delivered, and gone from the list.
      receiver.respondWith(200);
      await page.click(`${letter} button:has-text('Retry')`);
      await receiver.waitFor((accepted) => accepted.length === 1);
      await page.waitForSelector(letter, { state: "detached" });
      assert.deepEqual(await deadLetters(client), []);

      // Another one, discarded: never sent again.
      receiver.respondWith(500);
      await client.json("POST", "/api/sessions/hooked/start");
      await waitForDeadLetters(client, 1);
      await page.click("#dead-letters-refresh");
      await page.waitForSelector(letter);
      const discarded = await page.locator(letter).first().getAttribute("data-dead-letter");
      await page.click(
        `#dead-letter-rows tr[data-dead-letter='${discarded}'] button:has-text('Discard')`,
      );
      await page.waitForSelector(`#dead-letter-rows tr[data-dead-letter='${discarded}']`, {
        state: "detached",
      });
      assert.ok(!(await deadLetters(client)).some((l) => l.id === discarded), "discarded");

      await page.click(`${hookRow} button:has-text('Remove')`);
      await page.waitForSelector(hookRow, { state: "detached" });
      assert.deepEqual((await client.session("hooked"))?.webhooks, []);
      assert.deepEqual(problems, []);
    }, { WEBHOOK_MAX_ATTEMPTS: "1" }).finally(() => receiver.close());
  },
);
