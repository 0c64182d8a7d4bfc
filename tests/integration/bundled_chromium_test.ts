/**
 * The fallback browser for machines with only Node: the Chromium build inside the npm package
 * `@sparticuz/chromium`, unpacked from the installed package (nothing downloaded) and driven by
 * playwright-core, draws text with the font it ships.
 */
import { strict as assert } from "node:assert";
import { launchChromium } from "../support/browser.ts";
import { unpackBundledChromium } from "../support/bundled_chromium.ts";
import { defineRequirement, testsRequiring } from "../support/test_requirements.ts";

const linuxX64 = defineRequirement({
  name: "Linux x64",
  hint: "The npm package's Chromium is built for Linux x64 only; elsewhere use CHROMIUM_PATH",
  probe: () =>
    Promise.resolve(
      Deno.build.os === "linux" && Deno.build.arch === "x86_64"
        ? { met: true, value: null, description: Deno.build.target }
        : { met: false, reason: `this is ${Deno.build.target}` },
    ),
});
const linuxX64Test = await testsRequiring(linuxX64);

linuxX64Test(
  "the Chromium inside the npm package unpacks once and draws text with the font it ships",
  {},
  async () => {
    const first = await unpackBundledChromium();
    const again = await unpackBundledChromium();
    assert.deepEqual(again, first);
    const browser = await launchChromium(first);
    try {
      assert.match(browser.version(), /^\d+\./);
      const page = await browser.newPage();
      await page.setContent(
        "<span id=text style=\"font-family: 'Open Sans'\">Linked devices</span>",
      );
      // Which font the text was drawn with, as Chromium's DevTools report it.
      const devtools = await page.context().newCDPSession(page);
      await devtools.send("DOM.enable");
      await devtools.send("CSS.enable");
      const { root } = await devtools.send("DOM.getDocument");
      const { nodeId } = await devtools.send("DOM.querySelector", {
        nodeId: root.nodeId,
        selector: "#text",
      });
      const { fonts } = await devtools.send("CSS.getPlatformFontsForNode", { nodeId });
      assert.deepEqual(fonts.map((font) => font.familyName), ["Open Sans"]);
    } finally {
      await browser.close();
    }
  },
);
