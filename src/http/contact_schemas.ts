import { z } from "@hono/zod-openapi";
import { SessionIdParamsSchema } from "./schemas.ts";
import { normalizeUser } from "./group_schemas.ts";

/** WhatsApp limits an about text to 139 characters and a push name to 25. */
export const MAX_ABOUT_LENGTH = 139;
export const MAX_NAME_LENGTH = 25;

export const ContactParamsSchema = SessionIdParamsSchema.extend({
  jid: z.string().max(64).refine(
    (value) => normalizeUser(value) !== null,
    "must be a phone number (6-15 digits, optional leading +) or a user JID " +
      "(<digits>@s.whatsapp.net)",
  ).openapi({ param: { name: "jid", in: "path" }, example: "15550009999@s.whatsapp.net" }),
});

export const ContactSchema = z.object({
  jid: z.string(),
  pictureUrl: z.string().nullable().openapi({
    description: "Where WhatsApp serves their profile picture (the URL expires); null when " +
      "they have none or hide it from this account",
  }),
  about: z.string().nullable(),
  aboutSetAt: z.string().nullable(),
  business: z.object({
    description: z.string().nullable(),
    category: z.string().nullable(),
    email: z.string().nullable(),
    website: z.string().nullable(),
    address: z.string().nullable(),
  }).nullable().openapi({ description: "Null for a personal account" }),
}).openapi("Contact");

export const BlockedListSchema = z.object({ jids: z.array(z.string()) }).openapi("BlockedList");

export const ProfileSchema = z.object({
  jid: z.string(),
  phoneNumber: z.string(),
  name: z.string().nullable(),
  about: z.string().nullable(),
  pictureUrl: z.string().nullable(),
}).openapi("Profile");

export const UpdateProfileBodySchema = z.object({
  about: z.string().max(MAX_ABOUT_LENGTH).optional(),
  name: z.string().trim().min(1).max(MAX_NAME_LENGTH).optional(),
}).strict().refine((body) => Object.keys(body).length > 0, "change at least one field")
  .openapi("UpdateProfile");
