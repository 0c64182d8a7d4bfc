import { z } from "@hono/zod-openapi";
import { normalizeRecipient } from "../domain/message.ts";
import { normalizeGroupJid, normalizeInviteCode, PARTICIPANT_ACTIONS } from "../domain/groups.ts";
import { ErrorSchema, SessionIdParamsSchema } from "./schemas.ts";

/** WhatsApp limits a subject to 100 characters and a description to 2048. */
export const MAX_SUBJECT_LENGTH = 100;
export const MAX_DESCRIPTION_LENGTH = 2048;
/** WhatsApp's largest groups have 1024 members. */
const MAX_PARTICIPANTS = 1024;

const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

/** The user JID of a phone number or user JID; `null` for anything else (groups included). */
export function normalizeUser(value: string): string | null {
  const jid = normalizeRecipient(value);
  return jid?.endsWith("@s.whatsapp.net") ? jid : null;
}

/** A user: a phone number or a user JID. */
export const userField = z.string().max(64).refine(
  (value) => normalizeUser(value) !== null,
  "must be a phone number (6-15 digits, optional leading +) or a user JID " +
    "(<digits>@s.whatsapp.net)",
).openapi({ example: "+15550009999" });

export const GroupParamsSchema = SessionIdParamsSchema.extend({
  jid: z.string().max(64).refine(
    (value) => normalizeGroupJid(value) !== null,
    "must be a group JID (<digits>@g.us) or a group id (<digits>)",
  ).openapi({ param: { name: "jid", in: "path" }, example: "120363012345678901@g.us" }),
});

export const GroupSummarySchema = z.object({
  jid: z.string().openapi({ example: "120363012345678901@g.us" }),
  subject: z.string(),
  size: z.number().int(),
  createdAt: z.string().nullable(),
}).openapi("GroupSummary");

export const GroupParticipantSchema = z.object({
  jid: z.string().openapi({
    description: "The member's phone number JID when WhatsApp tells it, else their LID",
    example: "15550009999@s.whatsapp.net",
  }),
  phoneNumber: z.string().nullable(),
  lid: z.string().nullable(),
  admin: z.enum(["superadmin", "admin"]).nullable(),
}).openapi("GroupParticipant");

export const GroupSchema = GroupSummarySchema.extend({
  description: z.string().nullable(),
  owner: z.string().nullable(),
  participants: z.array(GroupParticipantSchema),
  settings: z.object({
    announce: z.boolean().openapi({ description: "Only admins send messages" }),
    locked: z.boolean().openapi({ description: "Only admins edit the subject and description" }),
    membersCanAdd: z.boolean(),
    joinApproval: z.boolean(),
    ephemeralSeconds: z.number().int().nullable(),
  }),
  inviteCode: z.string().nullable().openapi({
    description: "The invite code, when this account is an admin of the group",
  }),
}).openapi("Group");

export const GroupListSchema = z.object({ groups: z.array(GroupSummarySchema) })
  .openapi("GroupList");

export const CreateGroupBodySchema = z.object({
  subject: z.string().trim().min(1).max(MAX_SUBJECT_LENGTH),
  participants: z.array(userField).min(1).max(MAX_PARTICIPANTS),
}).strict().openapi("CreateGroup");

export const UpdateGroupBodySchema = z.object({
  subject: z.string().trim().min(1).max(MAX_SUBJECT_LENGTH).optional(),
  description: z.string().max(MAX_DESCRIPTION_LENGTH).nullable().optional().openapi({
    description: "`null` or an empty string removes it",
  }),
  announce: z.boolean().optional().openapi({ description: "Only admins send messages" }),
  locked: z.boolean().optional().openapi({ description: "Only admins edit the group's info" }),
}).strict().refine((body) => Object.keys(body).length > 0, "change at least one field")
  .openapi("UpdateGroup");

export const ParticipantsBodySchema = z.object({
  action: z.enum(PARTICIPANT_ACTIONS),
  participants: z.array(userField).min(1).max(MAX_PARTICIPANTS),
}).strict().openapi("ChangeParticipants");

export const ParticipantResultsSchema = z.object({
  results: z.array(z.object({
    jid: z.string(),
    ok: z.boolean(),
    status: z.number().int().openapi({
      description: "WhatsApp's code: 200 done, 403 refused by their privacy settings (invite " +
        "them instead), 404 not on WhatsApp or not in the group, 409 already in it",
    }),
    reason: z.string().nullable(),
  })),
}).openapi("ParticipantResults");

export const InviteSchema = z.object({
  code: z.string(),
  link: z.string().openapi({ example: "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv" }),
}).openapi("GroupInvite");

export const JoinGroupBodySchema = z.object({
  code: z.string().max(128).refine(
    (value) => normalizeInviteCode(value) !== null,
    "must be an invite code or a https://chat.whatsapp.com/ link",
  ),
}).strict().openapi("JoinGroup");

export { json };

/** The errors of a group route: the usual ones, and 403 when WhatsApp refuses (not an admin). */
export const groupErrorResponses = {
  400: { description: "Invalid input", content: json(ErrorSchema) },
  403: {
    description: "WhatsApp refused: this account is not an admin (or not a member)",
    content: json(ErrorSchema),
  },
  404: { description: "Unknown session or group", content: json(ErrorSchema) },
  409: { description: "The session is not connected", content: json(ErrorSchema) },
  413: { description: "Body too large", content: json(ErrorSchema) },
  415: { description: "Wrong content type", content: json(ErrorSchema) },
  502: { description: "WhatsApp did not answer", content: json(ErrorSchema) },
} as const;
