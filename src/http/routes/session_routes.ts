import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { SessionManager, SessionView } from "../../domain/session_manager.ts";
import { publicSession } from "../../domain/session.ts";
import type { Webhook } from "../../domain/webhook.ts";
import {
  bodyErrorResponses,
  CreateSessionBodySchema,
  errorResponses,
  SessionIdParamsSchema,
  SessionListSchema,
  SessionSchema,
  UpdateSessionBodySchema,
} from "../schemas.ts";

const json = <T>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

const createSession = createRoute({
  method: "post",
  path: "/api/sessions",
  operationId: "createSession",
  tags: ["Sessions"],
  summary: "Create a session and start linking it",
  request: {
    body: { required: true, content: { "application/json": { schema: CreateSessionBodySchema } } },
  },
  responses: { 201: json(SessionSchema, "Session created"), ...bodyErrorResponses },
});

const listSessions = createRoute({
  method: "get",
  path: "/api/sessions",
  operationId: "listSessions",
  tags: ["Sessions"],
  summary: "List every session",
  responses: { 200: json(SessionListSchema, "All sessions, oldest first") },
});

const getSession = createRoute({
  method: "get",
  path: "/api/sessions/{id}",
  operationId: "getSession",
  tags: ["Sessions"],
  summary: "Get one session",
  request: { params: SessionIdParamsSchema },
  responses: { 200: json(SessionSchema, "The session"), ...errorResponses },
});

const updateSession = createRoute({
  method: "patch",
  path: "/api/sessions/{id}",
  operationId: "updateSession",
  tags: ["Sessions"],
  summary: "Rename a session or replace its webhooks",
  request: {
    params: SessionIdParamsSchema,
    body: { required: true, content: { "application/json": { schema: UpdateSessionBodySchema } } },
  },
  responses: { 200: json(SessionSchema, "The updated session"), ...bodyErrorResponses },
});

const deleteSession = createRoute({
  method: "delete",
  path: "/api/sessions/{id}",
  operationId: "deleteSession",
  tags: ["Sessions"],
  summary: "Delete a session",
  description:
    "Logs the session out on WhatsApp when it is connected, then removes its credentials and " +
    "metadata from disk.",
  request: { params: SessionIdParamsSchema },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});

/** Registers the session resource routes. */
export function registerSessionRoutes(app: OpenAPIHono, manager: SessionManager): void {
  app.openapi(createSession, async (c) => {
    const body = c.req.valid("json");
    const record = await manager.create({
      id: body.id,
      name: body.name ?? null,
      webhooks: toWebhooks(body.webhooks),
    });
    return c.json(toView(manager, record), 201);
  });

  app.openapi(
    listSessions,
    async (c) =>
      c.json({ sessions: (await manager.list()).map((session) => toView(manager, session)) }, 200),
  );

  app.openapi(
    getSession,
    async (c) => c.json(toView(manager, await manager.get(c.req.valid("param").id)), 200),
  );

  app.openapi(updateSession, async (c) => {
    const body = c.req.valid("json");
    const record = await manager.update(c.req.valid("param").id, {
      name: body.name,
      webhooks: toWebhooks(body.webhooks),
    });
    return c.json(toView(manager, record), 200);
  });

  app.openapi(deleteSession, async (c) => {
    await manager.delete(c.req.valid("param").id);
    return c.body(null, 204);
  });
}

/**
 * The API representation of a session: webhook secrets masked, the node that runs it, and what
 * this node knows of it beyond the record (recent status changes, storage trouble).
 */
export function toView(manager: SessionManager, session: SessionView) {
  return { ...publicSession(session), node: session.node, ...manager.live(session.id) };
}

function toWebhooks(
  hooks: { url: string; events?: Webhook["events"]; secret: string }[] | undefined,
): Webhook[] | undefined {
  return hooks?.map((hook) => ({ url: hook.url, events: hook.events ?? [], secret: hook.secret }));
}
