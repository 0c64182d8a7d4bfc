/**
 * Groups as the gateway sees them, independent of Baileys: what a group is, who is in it with
 * which rights, and what a change of its participants answered for each of them.
 */

/** A participant's rights in a group. */
export type GroupAdmin = "superadmin" | "admin" | null;

/** One member of a group. */
export interface GroupParticipant {
  /** The member's JID: their phone number JID when WhatsApp tells it, else their LID. */
  jid: string;
  /** Digits, when known. */
  phoneNumber: string | null;
  /** The member's LID (`<digits>@lid`), when known. */
  lid: string | null;
  admin: GroupAdmin;
}

/** Who may do what in a group. */
export interface GroupSettings {
  /** Only admins send messages. */
  announce: boolean;
  /** Only admins change the subject, description and picture. */
  locked: boolean;
  /** Every member (not only admins) may add participants. */
  membersCanAdd: boolean;
  /** An admin approves who joins by link. */
  joinApproval: boolean;
  /** Disappearing messages, in seconds; `null` when off. */
  ephemeralSeconds: number | null;
}

/** A group the account is in, as listed. */
export interface GroupSummary {
  /** `<digits>@g.us`. */
  jid: string;
  subject: string;
  /** How many participants it has. */
  size: number;
  /** ISO timestamp of its creation, when known. */
  createdAt: string | null;
}

/** Everything the gateway tells about one group. */
export interface GroupInfo extends GroupSummary {
  description: string | null;
  /** The creator's JID, when known. */
  owner: string | null;
  participants: GroupParticipant[];
  settings: GroupSettings;
  /** The invite code, when this account is an admin (`null` otherwise). */
  inviteCode: string | null;
}

export const PARTICIPANT_ACTIONS = ["add", "remove", "promote", "demote"] as const;
export type ParticipantAction = (typeof PARTICIPANT_ACTIONS)[number];

/** What WhatsApp answered for one participant of an add, remove, promote or demote. */
export interface ParticipantResult {
  jid: string;
  ok: boolean;
  /** WhatsApp's code: 200 done, 403 refused (privacy: invite instead), 404 not found, 409 already. */
  status: number;
  /** Why it was refused, in words. */
  reason: string | null;
}

/** A group invite: the code and the link that carries it. */
export interface GroupInvite {
  code: string;
  link: string;
}

const GROUP_JID = /^(\d{5,20}(?:-\d{5,15})?)(?:@g\.us)?$/;
const INVITE_CODE = /^(?:https:\/\/chat\.whatsapp\.com\/)?([A-Za-z0-9]{16,32})$/;

/**
 * The JID of a group given as `<digits>@g.us`, the older `<digits>-<digits>@g.us` or the bare id;
 * `null` when it is not one.
 *
 * @example
 * ```ts
 * normalizeGroupJid("120363012345678901"); // "120363012345678901@g.us"
 * normalizeGroupJid("15550001111@s.whatsapp.net"); // null
 * ```
 */
export function normalizeGroupJid(value: string): string | null {
  const id = GROUP_JID.exec(value.trim())?.[1];
  return id ? `${id}@g.us` : null;
}

/**
 * The code of a group invite given as the code or as its `https://chat.whatsapp.com/` link;
 * `null` when it is neither.
 *
 * @example
 * ```ts
 * normalizeInviteCode("https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv"); // "AbCdEfGhIjKlMnOpQrStUv"
 * ```
 */
export function normalizeInviteCode(value: string): string | null {
  return INVITE_CODE.exec(value.trim())?.[1] ?? null;
}

/**
 * The invite of a code.
 *
 * @example
 * ```ts
 * inviteOf("AbCdEfGhIjKlMnOpQrStUv").link; // "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv"
 * ```
 */
export function inviteOf(code: string): GroupInvite {
  return { code, link: `https://chat.whatsapp.com/${code}` };
}
