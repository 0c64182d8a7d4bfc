import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { normalizeGroupJid, normalizeInviteCode } from "../../domain/groups.ts";
import type { SessionManager } from "../../domain/session_manager.ts";
import {
  CreateGroupBodySchema,
  groupErrorResponses,
  GroupListSchema,
  GroupParamsSchema,
  GroupSchema,
  InviteSchema,
  JoinGroupBodySchema,
  json,
  normalizeUser,
  ParticipantResultsSchema,
  ParticipantsBodySchema,
  UpdateGroupBodySchema,
} from "../group_schemas.ts";
import { SessionIdParamsSchema } from "../schemas.ts";

const tags = ["Groups"];

const listGroups = createRoute({
  method: "get",
  path: "/api/sessions/{id}/groups",
  operationId: "listGroups",
  tags,
  summary: "The groups the account is in",
  request: { params: SessionIdParamsSchema },
  responses: {
    200: { description: "Its groups", content: json(GroupListSchema) },
    ...groupErrorResponses,
  },
});

const createGroup = createRoute({
  method: "post",
  path: "/api/sessions/{id}/groups",
  operationId: "createGroup",
  tags,
  summary: "Create a group",
  description: "Creates a group with this account as its admin. Participants WhatsApp refuses " +
    "(privacy settings) are left out: compare `participants` with what was asked, and send " +
    "them the invite link.",
  request: {
    params: SessionIdParamsSchema,
    body: { required: true, content: json(CreateGroupBodySchema) },
  },
  responses: {
    201: { description: "The new group", content: json(GroupSchema) },
    ...groupErrorResponses,
  },
});

const joinGroup = createRoute({
  method: "post",
  path: "/api/sessions/{id}/groups/join",
  operationId: "joinGroup",
  tags,
  summary: "Join a group by invite code or link",
  request: {
    params: SessionIdParamsSchema,
    body: { required: true, content: json(JoinGroupBodySchema) },
  },
  responses: {
    200: { description: "The group joined", content: json(GroupSchema.pick({ jid: true })) },
    ...groupErrorResponses,
  },
});

const getGroup = createRoute({
  method: "get",
  path: "/api/sessions/{id}/groups/{jid}",
  operationId: "getGroup",
  tags,
  summary: "One group: subject, description, participants, settings",
  description: "Asks WhatsApp for the group as it is now. `inviteCode` is set when this " +
    "account is an admin. 404 for a group that does not exist or that this account cannot see.",
  request: { params: GroupParamsSchema },
  responses: {
    200: { description: "The group", content: json(GroupSchema) },
    ...groupErrorResponses,
  },
});

const updateGroup = createRoute({
  method: "patch",
  path: "/api/sessions/{id}/groups/{jid}",
  operationId: "updateGroup",
  tags,
  summary: "Change a group's subject, description or settings",
  description: "Applies the given fields in order (subject, description, announce, locked); " +
    "403 with WhatsApp's reason when this account may not (not an admin, or the group is " +
    "locked). Members get `group.updated`.",
  request: {
    params: GroupParamsSchema,
    body: { required: true, content: json(UpdateGroupBodySchema) },
  },
  responses: {
    200: { description: "The group after", content: json(GroupSchema) },
    ...groupErrorResponses,
  },
});

const changeParticipants = createRoute({
  method: "post",
  path: "/api/sessions/{id}/groups/{jid}/participants",
  operationId: "changeGroupParticipants",
  tags,
  summary: "Add, remove, promote or demote participants",
  description: "One result per participant: WhatsApp refuses some (privacy settings, not in " +
    "the group). 403 when this account is not an admin. Members get `group.participants`.",
  request: {
    params: GroupParamsSchema,
    body: { required: true, content: json(ParticipantsBodySchema) },
  },
  responses: {
    200: {
      description: "What WhatsApp answered for each",
      content: json(ParticipantResultsSchema),
    },
    ...groupErrorResponses,
  },
});

const getInvite = createRoute({
  method: "get",
  path: "/api/sessions/{id}/groups/{jid}/invite",
  operationId: "getGroupInvite",
  tags,
  summary: "The group's invite link",
  description: "403 when this account is not an admin.",
  request: { params: GroupParamsSchema },
  responses: {
    200: { description: "The invite", content: json(InviteSchema) },
    ...groupErrorResponses,
  },
});

const revokeInvite = createRoute({
  method: "post",
  path: "/api/sessions/{id}/groups/{jid}/invite/revoke",
  operationId: "revokeGroupInvite",
  tags,
  summary: "Revoke the invite link and get a new one",
  request: { params: GroupParamsSchema },
  responses: {
    200: { description: "The new invite", content: json(InviteSchema) },
    ...groupErrorResponses,
  },
});

const leaveGroup = createRoute({
  method: "post",
  path: "/api/sessions/{id}/groups/{jid}/leave",
  operationId: "leaveGroup",
  tags,
  summary: "Leave a group",
  request: { params: GroupParamsSchema },
  responses: { 204: { description: "Left" }, ...groupErrorResponses },
});

/** Registers the group routes (every one runs on the node that holds the session). */
export function registerGroupRoutes(app: OpenAPIHono, manager: SessionManager): void {
  const groupOf = (jid: string) => normalizeGroupJid(jid)!;

  app.openapi(listGroups, async (c) => {
    const groups = await manager.run(c.req.valid("param").id, { kind: "listGroups" });
    return c.json({ groups }, 200);
  });

  app.openapi(createGroup, async (c) => {
    const { subject, participants } = c.req.valid("json");
    const group = await manager.run(c.req.valid("param").id, {
      kind: "createGroup",
      subject,
      participants: [...new Set(participants.map((p) => normalizeUser(p)!))],
    });
    return c.json(group, 201);
  });

  app.openapi(joinGroup, async (c) => {
    const code = normalizeInviteCode(c.req.valid("json").code)!;
    return c.json(await manager.run(c.req.valid("param").id, { kind: "joinGroup", code }), 200);
  });

  app.openapi(getGroup, async (c) => {
    const { id, jid } = c.req.valid("param");
    return c.json(await manager.run(id, { kind: "getGroup", group: groupOf(jid) }), 200);
  });

  app.openapi(updateGroup, async (c) => {
    const { id, jid } = c.req.valid("param");
    const changes = c.req.valid("json");
    return c.json(
      await manager.run(id, { kind: "updateGroup", group: groupOf(jid), changes }),
      200,
    );
  });

  app.openapi(changeParticipants, async (c) => {
    const { id, jid } = c.req.valid("param");
    const { action, participants } = c.req.valid("json");
    const results = await manager.run(id, {
      kind: "changeParticipants",
      group: groupOf(jid),
      action,
      participants: [...new Set(participants.map((p) => normalizeUser(p)!))],
    });
    return c.json({ results }, 200);
  });

  app.openapi(getInvite, async (c) => {
    const { id, jid } = c.req.valid("param");
    return c.json(await manager.run(id, { kind: "getInvite", group: groupOf(jid) }), 200);
  });

  app.openapi(revokeInvite, async (c) => {
    const { id, jid } = c.req.valid("param");
    return c.json(await manager.run(id, { kind: "revokeInvite", group: groupOf(jid) }), 200);
  });

  app.openapi(leaveGroup, async (c) => {
    const { id, jid } = c.req.valid("param");
    await manager.run(id, { kind: "leaveGroup", group: groupOf(jid) });
    return c.body(null, 204);
  });
}
