import { Hono } from "hono";
import { z } from "zod";
import type { FakeWhatsApp } from "./server.ts";

const PairBodySchema = z.object({
  qr: z.string().min(1),
  phoneNumber: z.string().regex(/^\d{6,15}$/),
  pushName: z.string().min(1).max(100).optional(),
}).strict();

const PairCodeBodySchema = z.object({
  code: z.string().regex(/^[A-Z0-9]{8}$/),
  phoneNumber: z.string().regex(/^\d{6,15}$/),
  pushName: z.string().min(1).max(100).optional(),
}).strict();

const PHONE = z.string().regex(/^\d{6,15}$/);
const ContactBodySchema = z.object({ phoneNumber: PHONE, pushName: z.string().max(100).optional() })
  .strict();
const TextBodySchema = z.object({ from: PHONE, to: PHONE, text: z.string().min(1).max(65_536) })
  .strict();
const ReceiptBodySchema = z.object({
  from: PHONE,
  to: PHONE,
  ids: z.array(z.string().min(1)).min(1),
  type: z.enum(["delivery", "read"]),
}).strict();

const ACTIONS = ["remove", "replace", "drop"] as const;

/**
 * The fake's HTTP control API, for tests that drive a gateway running as its own process:
 * `POST /control/pair`, `POST /control/pair-code`, `GET /control/devices`, `POST /control/devices/{phoneOrJid}/{remove|replace|drop}`,
 * `POST /control/contacts`, `POST /control/texts`, `POST /control/receipts`, `GET /control/received`.
 */
export function controlApi(fake: Omit<FakeWhatsApp, "controlUrl">): Hono {
  const app = new Hono().basePath("/control");
  app.onError((error, c) => c.json({ error: String(error?.message ?? error) }, 409));
  app.post("/pair", async (c) => {
    const body = PairBodySchema.safeParse(await c.req.json().catch(() => undefined));
    if (!body.success) return c.json({ error: z.prettifyError(body.error) }, 400);
    const { qr, ...phone } = body.data;
    return c.json(await fake.pairWithQr(qr, phone));
  });
  app.post("/pair-code", async (c) => {
    const body = PairCodeBodySchema.safeParse(await c.req.json().catch(() => undefined));
    if (!body.success) return c.json({ error: z.prettifyError(body.error) }, 400);
    const { code, ...phone } = body.data;
    return c.json(await fake.pairWithCode(code, phone));
  });
  app.get("/devices", (c) => c.json(fake.devices()));
  app.get("/pictures/:id", (c) => {
    const jpeg = fake.profiles.pictureById(c.req.param("id"));
    if (!jpeg) return c.json({ error: "no such picture" }, 404);
    return c.body(jpeg.slice().buffer, 200, { "content-type": "image/jpeg" });
  });
  app.post("/contacts", async (c) => {
    const body = ContactBodySchema.safeParse(await c.req.json().catch(() => undefined));
    if (!body.success) return c.json({ error: z.prettifyError(body.error) }, 400);
    fake.addContact(body.data);
    return c.body(null, 204);
  });
  app.post("/texts", async (c) => {
    const body = TextBodySchema.safeParse(await c.req.json().catch(() => undefined));
    if (!body.success) return c.json({ error: z.prettifyError(body.error) }, 400);
    return c.json(await fake.deliverText(body.data));
  });
  app.post("/receipts", async (c) => {
    const body = ReceiptBodySchema.safeParse(await c.req.json().catch(() => undefined));
    if (!body.success) return c.json({ error: z.prettifyError(body.error) }, 400);
    await fake.sendReceipt(body.data);
    return c.body(null, 204);
  });
  app.get("/received", (c) =>
    c.json(
      fake.receivedMessages({
        from: c.req.query("from") || undefined,
        to: c.req.query("to") || undefined,
      }).map(({ media, ...message }) => {
        // A file's bytes stay here; its hash says whether they arrived intact.
        if (!media) return message;
        const { bytes, ...about } = media;
        return { ...message, media: { ...about, size: bytes.length } };
      }),
    ));
  app.post("/devices/:device/:action", async (c) => {
    const action = z.enum(ACTIONS).safeParse(c.req.param("action"));
    if (!action.success) return c.json({ error: "action must be remove, replace or drop" }, 400);
    const device = c.req.param("device");
    if (action.data === "remove") await fake.removeDevice(device);
    if (action.data === "replace") await fake.replaceConnection(device);
    if (action.data === "drop") await fake.dropConnection(device);
    return c.body(null, 204);
  });
  return app;
}
