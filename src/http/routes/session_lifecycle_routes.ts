import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { SessionManager } from "../../domain/session_manager.ts";
import { QR_FORMATS, renderQr } from "../qr_image.ts";
import { normalizePhoneNumber } from "../../domain/message.ts";
import {
  bodyErrorResponses,
  errorResponses,
  ErrorSchema,
  SessionIdParamsSchema,
  SessionSchema,
} from "../schemas.ts";
import { toView } from "./session_routes.ts";

const sessionResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: SessionSchema } },
});

function lifecycleRoute(action: string, summary: string, description: string) {
  return createRoute({
    method: "post",
    path: `/api/sessions/{id}/${action}`,
    operationId: `${action}Session`,
    tags: ["Session lifecycle"],
    summary,
    description,
    request: { params: SessionIdParamsSchema },
    responses: { 200: sessionResponse("The session after the operation"), ...errorResponses },
  });
}

const startRoute = lifecycleRoute(
  "start",
  "Connect a session",
  "Opens the session's WhatsApp connection (a new QR code when it is not linked) and keeps it " +
    "connected across restarts. No-op when it is already running.",
);
const stopRoute = lifecycleRoute(
  "stop",
  "Disconnect a session, keeping its credentials",
  "Closes the connection without logging out. The session stays stopped, also across gateway " +
    "restarts, until started again.",
);
const restartRoute = lifecycleRoute(
  "restart",
  "Reconnect a session",
  "Closes the connection and opens a new one with the same credentials.",
);
const logoutRoute = lifecycleRoute(
  "logout",
  "Log a session out of WhatsApp",
  "Unlinks the device on WhatsApp and deletes its credentials. The session's metadata stays, " +
    "with status `logged_out`; `start` links it again with a new QR code. 409 when the session " +
    "is not connected.",
);

const qrRoute = createRoute({
  method: "get",
  path: "/api/sessions/{id}/qr",
  operationId: "getSessionQr",
  tags: ["Session lifecycle"],
  summary: "The QR code to link a session",
  description: "PNG by default; `?format=svg` for SVG, `?format=raw` for the string Baileys " +
    "emitted. 409 when no QR code is pending (already linked, stopped, or not started yet).",
  request: {
    params: SessionIdParamsSchema,
    query: z.object({
      format: z.enum(QR_FORMATS).default("png").openapi({ param: { name: "format", in: "query" } }),
    }),
  },
  responses: {
    200: {
      description: "The QR code",
      content: {
        "image/png": { schema: z.string().openapi({ format: "binary" }) },
        "image/svg+xml": { schema: z.string() },
        "text/plain": { schema: z.string() },
      },
    },
    404: {
      description: "Unknown session",
      content: { "application/json": { schema: ErrorSchema } },
    },
    409: {
      description: "No QR code pending",
      content: { "application/json": { schema: ErrorSchema } },
    },
  },
});

const PairingCodeBodySchema = z
  .object({
    phoneNumber: z
      .string()
      .max(32)
      .refine(
        (value) => normalizePhoneNumber(value) !== null,
        "must be a phone number in international format: 6-15 digits, optional leading +",
      )
      .openapi({ example: "+15550001111" }),
  })
  .strict()
  .openapi("PairingCodeRequest");

const pairingCodeRoute = createRoute({
  method: "post",
  path: "/api/sessions/{id}/pairing-code",
  operationId: "requestPairingCode",
  tags: ["Session lifecycle"],
  summary: "A pairing code to link a session without scanning",
  description: "While the QR code is pending, asks WhatsApp for an 8-character code to type " +
    "on the phone (Linked devices → Link with phone number instead). The QR code stays valid " +
    "meanwhile. 409 when the session is not waiting to be linked.",
  request: {
    params: SessionIdParamsSchema,
    body: {
      required: true,
      content: { "application/json": { schema: PairingCodeBodySchema } },
    },
  },
  responses: {
    200: {
      description: "The code to type on the phone",
      content: {
        "application/json": {
          schema: z
            .object({
              code: z.string().openapi({ example: "ABCD1234" }),
              phoneNumber: z.string().openapi({ example: "15550001111" }),
            })
            .openapi("PairingCode"),
        },
      },
    },
    ...bodyErrorResponses,
    502: {
      description: "WhatsApp did not issue a code",
      content: { "application/json": { schema: ErrorSchema } },
    },
  },
});

/** Registers start/stop/restart/logout, the QR code and the pairing code routes. */
export function registerSessionLifecycleRoutes(app: OpenAPIHono, manager: SessionManager): void {
  app.openapi(startRoute, async (c) => {
    return c.json(toView(manager, await manager.start(c.req.valid("param").id)), 200);
  });
  app.openapi(stopRoute, async (c) => {
    return c.json(toView(manager, await manager.stop(c.req.valid("param").id)), 200);
  });
  app.openapi(restartRoute, async (c) => {
    return c.json(toView(manager, await manager.restart(c.req.valid("param").id)), 200);
  });
  app.openapi(logoutRoute, async (c) => {
    return c.json(toView(manager, await manager.logout(c.req.valid("param").id)), 200);
  });
  app.openapi(qrRoute, async (c) => {
    const qr = await manager.qr(c.req.valid("param").id);
    const image = await renderQr(qr, c.req.valid("query").format);
    c.header("cache-control", "no-store");
    c.header("content-type", image.contentType);
    return c.body(image.body as string, 200);
  });
  app.openapi(pairingCodeRoute, async (c) => {
    // The schema has checked the number; normalizing cannot fail here.
    const phoneNumber = normalizePhoneNumber(c.req.valid("json").phoneNumber)!;
    const code = await manager.requestPairingCode(c.req.valid("param").id, phoneNumber);
    c.header("cache-control", "no-store");
    return c.json({ code, phoneNumber }, 200);
  });
}
