import {
  type GroupMetadata,
  type GroupParticipant as BaileysParticipant,
  isLidUser,
  isPnUser,
  jidDecode,
  jidNormalizedUser,
} from "@whiskeysockets/baileys";
import type { GroupChanges } from "../../domain/account_operations.ts";
import {
  type GroupInfo,
  type GroupInvite,
  type GroupParticipant,
  type GroupSummary,
  inviteOf,
  type ParticipantAction,
  type ParticipantResult,
} from "../../domain/groups.ts";
import { WhatsAppRequestError } from "../../domain/errors.ts";
import type { WASocket } from "../baileys_connection.ts";
import { type GroupMetadataCache, sameParticipant } from "./group_metadata_cache.ts";
import { asked } from "./whatsapp_errors.ts";
import { rotateSenderKey } from "./sender_key_rotation.ts";

/** What WhatsApp's per-participant codes mean. */
const PARTICIPANT_REASONS: Record<number, string> = {
  400: "not a valid participant",
  401: "not allowed",
  403: "refused by their privacy settings (send them the invite link)",
  404: "not on WhatsApp, or not in the group",
  406: "not allowed for the group's creator",
  408: "they left the group recently",
  409: "already in the group",
  500: "the group is full",
};

/**
 * A participant as the gateway tells it: named by phone number JID when WhatsApp tells it
 * (LID-addressed groups name members by LID), with the LID beside.
 *
 * @example
 * ```ts
 * participantOf({ id: "2000@lid", phoneNumber: "15550009999@s.whatsapp.net", admin: null });
 * // { jid: "15550009999@s.whatsapp.net", phoneNumber: "15550009999", lid: "2000@lid", admin: null }
 * ```
 */
export function participantOf(
  participant: Pick<BaileysParticipant, "id" | "phoneNumber" | "lid"> & { admin?: string | null },
): GroupParticipant {
  const forms = [participant.id, participant.phoneNumber, participant.lid]
    .filter((jid): jid is string => typeof jid === "string" && jid.length > 0)
    .map((jid) => jidNormalizedUser(jid));
  const pn = forms.find((jid) => isPnUser(jid)) ?? null;
  const lid = forms.find((jid) => isLidUser(jid)) ?? null;
  const admin = participant.admin === "admin" || participant.admin === "superadmin"
    ? participant.admin
    : null;
  return {
    jid: pn ?? lid ?? participant.id,
    phoneNumber: pn ? jidDecode(pn)?.user ?? null : null,
    lid,
    admin,
  };
}

const isoOf = (seconds: number | undefined) =>
  seconds && Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : null;

function summaryOf(metadata: GroupMetadata): GroupSummary {
  return {
    jid: metadata.id,
    subject: metadata.subject ?? "",
    size: metadata.size ?? metadata.participants.length,
    createdAt: isoOf(metadata.creation),
  };
}

function infoOf(metadata: GroupMetadata, inviteCode: string | null): GroupInfo {
  const owner = metadata.ownerPn ?? metadata.owner;
  return {
    ...summaryOf(metadata),
    description: metadata.desc ?? null,
    owner: owner ? jidNormalizedUser(owner) : null,
    participants: metadata.participants.map(participantOf),
    settings: {
      announce: metadata.announce ?? false,
      locked: metadata.restrict ?? false,
      membersCanAdd: metadata.memberAddMode ?? false,
      joinApproval: metadata.joinApprovalMode ?? false,
      ephemeralSeconds: metadata.ephemeralDuration || null,
    },
    inviteCode,
  };
}

/** Group requests of one connected socket, keeping its metadata cache current. */
export class GroupOperations {
  readonly #cache: GroupMetadataCache;

  constructor(cache: GroupMetadataCache) {
    this.#cache = cache;
  }

  /** Whether `participant` is this socket's own account. */
  isMe(socket: WASocket, participant: Pick<BaileysParticipant, "id" | "phoneNumber" | "lid">) {
    const me = socket.user;
    if (!me?.id) return false;
    return sameParticipant({ id: me.id, lid: me.lid }, participant);
  }

  async list(socket: WASocket): Promise<GroupSummary[]> {
    const groups = await asked("list the groups", () => socket.groupFetchAllParticipating());
    const metadata = Object.values(groups);
    for (const group of metadata) this.#cache.set(group);
    return metadata.map(summaryOf).sort((a, b) => a.subject.localeCompare(b.subject));
  }

  /** A group as WhatsApp has it now, with its invite code when this account is an admin. */
  async get(socket: WASocket, group: string): Promise<GroupInfo> {
    const metadata = await asked("answer for the group", () => socket.groupMetadata(group), group);
    this.#cache.set(metadata);
    const me = metadata.participants.find((p) => this.isMe(socket, p));
    const admin = me?.admin === "admin" || me?.admin === "superadmin";
    const code = admin
      ? await asked("give the invite code", () => socket.groupInviteCode(group), group)
      : undefined;
    return infoOf(metadata, code ?? null);
  }

  async create(socket: WASocket, subject: string, participants: string[]): Promise<GroupInfo> {
    const metadata = await asked(
      "create the group",
      () => socket.groupCreate(subject, participants),
    );
    this.#cache.set(metadata);
    const code = await asked("give the invite code", () => socket.groupInviteCode(metadata.id))
      .catch(() => undefined);
    return infoOf(metadata, code ?? null);
  }

  /** Applies each change in turn (subject, description, settings); answers the group after. */
  async update(socket: WASocket, group: string, changes: GroupChanges): Promise<GroupInfo> {
    if (changes.subject !== undefined) {
      const subject = changes.subject;
      await asked("change the subject", () => socket.groupUpdateSubject(group, subject), group);
    }
    if (changes.description !== undefined) {
      const description = changes.description || undefined;
      await asked(
        "change the description",
        () => socket.groupUpdateDescription(group, description),
        group,
      );
    }
    if (changes.announce !== undefined) {
      const setting = changes.announce ? "announcement" : "not_announcement";
      await asked("change who may send", () => socket.groupSettingUpdate(group, setting), group);
    }
    if (changes.locked !== undefined) {
      const setting = changes.locked ? "locked" : "unlocked";
      await asked("change who may edit", () => socket.groupSettingUpdate(group, setting), group);
    }
    return await this.get(socket, group);
  }

  async changeParticipants(
    socket: WASocket,
    group: string,
    action: ParticipantAction,
    participants: string[],
  ): Promise<ParticipantResult[]> {
    const answers = await asked(
      `${action} the participants`,
      () => socket.groupParticipantsUpdate(group, participants, action),
      group,
    );
    const results = answers.map(({ jid, status }): ParticipantResult => {
      const code = Number(status) || 500;
      const ok = code >= 200 && code < 300;
      return {
        jid: jid ?? "",
        ok,
        status: code,
        reason: ok ? null : PARTICIPANT_REASONS[code] ?? "refused by WhatsApp",
      };
    });
    // The change counts for sends at once, before WhatsApp's notification of it arrives.
    const done = results.filter((r) => r.ok).map((r) => ({ id: r.jid }));
    this.#cache.applyParticipants(group, action, done, (p) => this.isMe(socket, p));
    if (action === "remove" && done.length > 0) await rotateSenderKey(socket, group);
    return results;
  }

  async invite(socket: WASocket, group: string, revoke: boolean): Promise<GroupInvite> {
    const code = revoke
      ? await asked("revoke the invite link", () => socket.groupRevokeInvite(group), group)
      : await asked("give the invite code", () => socket.groupInviteCode(group), group);
    if (!code) throw new WhatsAppRequestError("WhatsApp answered no invite code");
    return inviteOf(code);
  }

  async join(socket: WASocket, code: string): Promise<{ jid: string }> {
    const jid = await asked(
      "join the group",
      () => socket.groupAcceptInvite(code),
      `invite ${code}`,
    );
    if (!jid) throw new WhatsAppRequestError("WhatsApp answered no group for the invite");
    return { jid: jid.includes("@") ? jid : `${jid}@g.us` };
  }

  async leave(socket: WASocket, group: string): Promise<null> {
    await asked("leave the group", () => socket.groupLeave(group), group);
    this.#cache.delete(group);
    return null;
  }
}
