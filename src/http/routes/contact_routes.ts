import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { isJpeg } from "../../domain/contacts.ts";
import { ValidationError } from "../../domain/errors.ts";
import type { SessionManager } from "../../domain/session_manager.ts";
import {
  BlockedListSchema,
  ContactParamsSchema,
  ContactSchema,
  ProfileSchema,
  UpdateProfileBodySchema,
} from "../contact_schemas.ts";
import { groupErrorResponses, json, normalizeUser } from "../group_schemas.ts";
import { SessionIdParamsSchema } from "../schemas.ts";

const getContact = createRoute({
  method: "get",
  path: "/api/sessions/{id}/contacts/{jid}",
  operationId: "getContact",
  tags: ["Contacts"],
  summary: "A user's profile picture URL, about text and business profile",
  request: { params: ContactParamsSchema },
  responses: {
    200: { description: "What WhatsApp tells", content: json(ContactSchema) },
    ...groupErrorResponses,
  },
});

const blockContact = createRoute({
  method: "post",
  path: "/api/sessions/{id}/contacts/{jid}/block",
  operationId: "blockContact",
  tags: ["Contacts"],
  summary: "Block a user",
  request: { params: ContactParamsSchema },
  responses: { 204: { description: "Blocked" }, ...groupErrorResponses },
});

const unblockContact = createRoute({
  method: "post",
  path: "/api/sessions/{id}/contacts/{jid}/unblock",
  operationId: "unblockContact",
  tags: ["Contacts"],
  summary: "Unblock a user",
  request: { params: ContactParamsSchema },
  responses: { 204: { description: "Unblocked" }, ...groupErrorResponses },
});

const listBlocked = createRoute({
  method: "get",
  path: "/api/sessions/{id}/blocklist",
  operationId: "listBlockedContacts",
  tags: ["Contacts"],
  summary: "The users this account blocked",
  request: { params: SessionIdParamsSchema },
  responses: {
    200: { description: "Their JIDs", content: json(BlockedListSchema) },
    ...groupErrorResponses,
  },
});

const subscribePresence = createRoute({
  method: "post",
  path: "/api/sessions/{id}/contacts/{jid}/presence/subscribe",
  operationId: "subscribeContactPresence",
  tags: ["Contacts"],
  summary: "Receive a user's presence as `presence.update` events",
  description: "Asks WhatsApp for the user's presence: online, offline with last seen (when " +
    "they share it), typing and recording arrive as `presence.update`. Lasts for the " +
    "connection: subscribe again after the session reconnects.",
  request: { params: ContactParamsSchema },
  responses: { 202: { description: "Subscribed" }, ...groupErrorResponses },
});

const getProfile = createRoute({
  method: "get",
  path: "/api/sessions/{id}/profile",
  operationId: "getProfile",
  tags: ["Profile"],
  summary: "The account's own name, about text and picture",
  request: { params: SessionIdParamsSchema },
  responses: {
    200: { description: "The profile", content: json(ProfileSchema) },
    ...groupErrorResponses,
  },
});

const updateProfile = createRoute({
  method: "patch",
  path: "/api/sessions/{id}/profile",
  operationId: "updateProfile",
  tags: ["Profile"],
  summary: "Change the account's about text or name",
  description: "The name is synced through WhatsApp's app state, with the key the account's " +
    "phone shares with this device just after it is linked: a name change waits up to 10 s for " +
    "it, then answers 409 `app_state_not_synced` (try again).",
  request: {
    params: SessionIdParamsSchema,
    body: { required: true, content: json(UpdateProfileBodySchema) },
  },
  responses: {
    200: { description: "The profile after", content: json(ProfileSchema) },
    ...groupErrorResponses,
  },
});

const setPicture = createRoute({
  method: "post",
  path: "/api/sessions/{id}/profile/picture",
  operationId: "setProfilePicture",
  tags: ["Profile"],
  summary: "Set the account's profile picture",
  description: "The body is the picture as a JPEG (WhatsApp shows 640 x 640); it is sent as is.",
  request: {
    params: SessionIdParamsSchema,
    body: {
      required: true,
      content: { "image/jpeg": { schema: z.string().openapi({ format: "binary" }) } },
    },
  },
  responses: { 204: { description: "Set" }, ...groupErrorResponses },
});

const removePicture = createRoute({
  method: "delete",
  path: "/api/sessions/{id}/profile/picture",
  operationId: "removeProfilePicture",
  tags: ["Profile"],
  summary: "Remove the account's profile picture",
  request: { params: SessionIdParamsSchema },
  responses: { 204: { description: "Removed" }, ...groupErrorResponses },
});

/** Registers the contact, presence and own-profile routes. */
export function registerContactRoutes(app: OpenAPIHono, manager: SessionManager): void {
  const userOf = (jid: string) => normalizeUser(jid)!;

  app.openapi(getContact, async (c) => {
    const { id, jid } = c.req.valid("param");
    return c.json(await manager.run(id, { kind: "getContact", jid: userOf(jid) }), 200);
  });

  app.openapi(blockContact, async (c) => {
    const { id, jid } = c.req.valid("param");
    await manager.run(id, { kind: "setBlocked", jid: userOf(jid), blocked: true });
    return c.body(null, 204);
  });

  app.openapi(unblockContact, async (c) => {
    const { id, jid } = c.req.valid("param");
    await manager.run(id, { kind: "setBlocked", jid: userOf(jid), blocked: false });
    return c.body(null, 204);
  });

  app.openapi(listBlocked, async (c) => {
    const jids = await manager.run(c.req.valid("param").id, { kind: "listBlocked" });
    return c.json({ jids }, 200);
  });

  app.openapi(subscribePresence, async (c) => {
    const { id, jid } = c.req.valid("param");
    await manager.run(id, { kind: "subscribePresence", jid: userOf(jid) });
    return c.body(null, 202);
  });

  app.openapi(getProfile, async (c) => {
    return c.json(await manager.run(c.req.valid("param").id, { kind: "getProfile" }), 200);
  });

  app.openapi(updateProfile, async (c) => {
    const changes = c.req.valid("json");
    return c.json(
      await manager.run(c.req.valid("param").id, { kind: "updateProfile", ...changes }),
      200,
    );
  });

  app.openapi(setPicture, async (c) => {
    const type = c.req.header("content-type")?.split(";")[0].trim().toLowerCase();
    if (type !== "image/jpeg") {
      return c.json({
        error: {
          code: "unsupported_media_type",
          message: "The picture must be sent as image/jpeg",
        },
      }, 415);
    }
    const jpeg = new Uint8Array(await c.req.arrayBuffer());
    if (!isJpeg(jpeg)) throw new ValidationError("The body is not a JPEG file");
    await manager.run(c.req.valid("param").id, { kind: "setProfilePicture", jpeg });
    return c.body(null, 204);
  });

  app.openapi(removePicture, async (c) => {
    await manager.run(c.req.valid("param").id, { kind: "setProfilePicture", jpeg: null });
    return c.body(null, 204);
  });
}
