import assert from "node:assert/strict";
import { renderQr } from "../../../src/http/qr_image.ts";

Deno.test("renderQr() draws PNG and SVG (its library loaded on first use) and passes raw through", async () => {
  const qr = "2@abc,def,ghi,jkl";
  const png = await renderQr(qr, "png");
  assert.equal(png.contentType, "image/png");
  assert.deepEqual([...(png.body as Uint8Array).slice(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  const svg = await renderQr(qr, "svg");
  assert.equal(svg.contentType, "image/svg+xml");
  assert.match(svg.body as string, /^<svg [^>]*viewBox/);
  assert.deepEqual(await renderQr(qr, "raw"), {
    body: qr,
    contentType: "text/plain; charset=utf-8",
  });
});
