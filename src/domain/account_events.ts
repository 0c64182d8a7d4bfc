/**
 * What a connection reports about groups and presence, as the gateway publishes it (the event
 * bus adds the session, the time and the id).
 */
import type { Presence } from "./contacts.ts";
import type { ParticipantAction } from "./groups.ts";

/** A group's subject, description or settings changed. Only the fields that changed are set. */
export interface GroupUpdate {
  type: "group.updated";
  /** The group's JID. */
  group: string;
  /** Who changed it, when WhatsApp tells. */
  author: string | null;
  changes: {
    subject?: string;
    /** `null` when the description was removed. */
    description?: string | null;
    announce?: boolean;
    locked?: boolean;
    membersCanAdd?: boolean;
    joinApproval?: boolean;
    inviteCode?: string;
  };
}

/** Participants were added, removed (or left), promoted or demoted. */
export interface GroupParticipantsUpdate {
  type: "group.participants";
  group: string;
  action: ParticipantAction;
  /** Who did it (`null` when WhatsApp does not tell). */
  author: string | null;
  participants: { jid: string; phoneNumber: string | null; lid: string | null }[];
}

/** A user's presence in a chat changed (after a presence subscription, or typing in a chat). */
export interface PresenceUpdate {
  type: "presence.update";
  /** The chat it is about: the user's own JID, or a group's. */
  chat: string;
  /** The user whose presence it is. */
  jid: string;
  presence: Presence;
  /** ISO timestamp of when they were last online, when they share it. */
  lastSeen: string | null;
}

export type AccountEvent = GroupUpdate | GroupParticipantsUpdate | PresenceUpdate;
