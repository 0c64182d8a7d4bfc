/**
 * The dashboard's nodes view in a real browser (headless Chromium) on a real cluster: two gateway
 * processes on one PostgreSQL, against the fake WhatsApp server. The view shows both nodes with
 * their heartbeats and the sessions each owns, the session list and detail show each session's
 * node, and after `kill -9` of one node the view shows it not responding and its sessions on the
 * other. Screenshots are left in `test-artifacts/`.
 */
import { strict as assert } from "node:assert";
import type { Browser, Page } from "playwright-core";
import { ARTIFACTS_DIR, chromiumRequirement, launchChromium } from "../support/browser.ts";
import { spread, TestCluster } from "../support/cluster.ts";
import { openDashboard, signIn } from "../support/dashboard_page.ts";
import { linkSession } from "../support/fake_gateway.ts";
import { startFakeWhatsApp } from "../support/fake_whatsapp/server.ts";
import { startTestPostgres } from "../support/postgres_server.ts";
import { postgresRequirement } from "../support/postgres_test.ts";
import { withTempDir } from "../support/temp_dir.ts";
import { bothOf, testsRequiring } from "../support/test_requirements.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const clusterBrowserTest = await testsRequiring(bothOf(chromiumRequirement, postgresRequirement));

async function screenshot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(ARTIFACTS_DIR, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS_DIR}/${name}.png`, fullPage: true });
}

/** The session ids the nodes view lists for `node`. */
async function listedSessions(page: Page, node: string): Promise<string[]> {
  const text = await page.textContent(`#node-rows tr[data-node='${node}'] [data-node-sessions]`);
  return (text ?? "").split(", ").filter(Boolean).sort();
}

/** Waits until the nodes view lists exactly `ids` for `node`, with that count. */
async function waitForOwned(page: Page, node: string, ids: string[]): Promise<void> {
  const row = `#node-rows tr[data-node='${node}']`;
  await page.waitForSelector(`${row} [data-node-count]:text-is('${ids.length}')`, {
    timeout: 40_000,
  });
  const deadline = Date.now() + 20_000;
  while (JSON.stringify(await listedSessions(page, node)) !== JSON.stringify([...ids].sort())) {
    assert.ok(Date.now() < deadline, `${node} lists ${await listedSessions(page, node)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

clusterBrowserTest(
  "the nodes view on a two-node cluster: both nodes, their heartbeats and the sessions each owns; each session's node; a node killed shows as not responding and its sessions move",
  e2e,
  ([chromium, binaries]) =>
    withTempDir(async (root) => {
      const pg = await startTestPostgres(binaries[0]);
      const fake = await startFakeWhatsApp();
      let cluster: TestCluster | undefined;
      let browser: Browser | undefined;
      try {
        cluster = await TestCluster.start({ fake, pg, root, nodes: ["a", "b"] });
        const ids = ["n-1", "n-2", "n-3", "n-4"];
        for (const [i, id] of ids.entries()) {
          await linkSession(cluster.node("a").client, fake, id, `155560000${i}`);
        }
        const linked = await cluster.waitForConnected(ids);
        const owned = (node: string) => linked.filter((s) => s.node === node).map((s) => s.id);
        assert.deepEqual(spread(linked), { a: 2, b: 2 });

        browser = await launchChromium(chromium);
        const { page, problems } = await openDashboard(browser, cluster.node("a").url);
        await signIn(page, cluster.node("a").gateway.apiKey!);
        for (const node of ["a", "b"]) {
          const row = `#node-rows tr[data-node='${node}']`;
          await page.waitForSelector(`${row} [data-node-state='alive']`);
          await waitForOwned(page, node, owned(node));
          assert.equal(
            await page.textContent(`${row} td:nth-child(2)`),
            cluster.node(node).gateway.url,
          );
          assert.match(
            await page.textContent(`${row} [data-heartbeat]`) ?? "",
            /^\d+ s ago \(\d{4}-\d\d-\d\dT/,
          );
        }
        assert.match(await page.textContent("#node-rows tr[data-node='a']") ?? "", /this one/);
        // Heartbeats go on: the view shows a newer one after its next read.
        const heartbeatOfB = () =>
          page.getAttribute("#node-rows tr[data-node='b'] [data-heartbeat]", "data-heartbeat");
        const first = await heartbeatOfB();
        for (const deadline = Date.now() + 20_000; (await heartbeatOfB()) === first;) {
          assert.ok(Date.now() < deadline, "the view never showed a newer heartbeat");
          await new Promise((resolve) => setTimeout(resolve, 200));
        }

        // Each session's node, in the list and in its detail.
        await page.waitForSelector("body[data-clustered='true']");
        for (const session of linked) {
          const cell = page.locator(`tr[data-session='${session.id}'] td.node-column`);
          assert.ok(await cell.isVisible(), `${session.id}: the node column is shown`);
          assert.equal(await cell.textContent(), session.node);
        }
        const onB = owned("b")[0];
        await page.click(`tr[data-session='${onB}'] button:has-text('Details')`);
        await page.waitForSelector("#detail [data-fact='node']:text-is('b')");
        await screenshot(page, "dashboard-nodes");

        // b dies: its heartbeat stops, its leases lapse, a takes its sessions.
        await cluster.kill("b");
        await page.waitForSelector(
          "#node-rows tr[data-node='b'] [data-node-state='not responding']",
          {
            timeout: 40_000,
          },
        );
        await waitForOwned(page, "a", ids);
        await waitForOwned(page, "b", []);
        await page.waitForSelector("#detail [data-fact='node']:text-is('a')", { timeout: 20_000 });
        await page.waitForSelector(`tr[data-session='${onB}'] td.node-column:text-is('a')`);
        await screenshot(page, "dashboard-nodes-after-kill");
        assert.deepEqual(problems, []);
      } finally {
        await browser?.close();
        await cluster?.dispose();
        await fake.close();
        await pg.stop();
      }
    }),
);
