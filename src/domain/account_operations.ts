/**
 * What a session's WhatsApp account can be asked beyond sending messages: its groups, other
 * users' profiles and presence, its own profile. One typed operation per request, run by the
 * connection of the node that holds the session (`SessionConnection.run`), so it crosses worker
 * threads and nodes as plain data.
 */
import type { ContactProfile, OwnProfile } from "./contacts.ts";
import type {
  GroupInfo,
  GroupInvite,
  GroupSummary,
  ParticipantAction,
  ParticipantResult,
} from "./groups.ts";

/** Changes to a group's info and settings; absent fields stay as they are. */
export interface GroupChanges {
  subject?: string;
  /** `null` (or empty) removes the description. */
  description?: string | null;
  announce?: boolean;
  locked?: boolean;
}

/** Every operation: its arguments and what it answers. JIDs are normalized by the caller. */
interface Operations {
  listGroups: { args: Record<never, never>; result: GroupSummary[] };
  getGroup: { args: { group: string }; result: GroupInfo };
  createGroup: { args: { subject: string; participants: string[] }; result: GroupInfo };
  updateGroup: { args: { group: string; changes: GroupChanges }; result: GroupInfo };
  changeParticipants: {
    args: { group: string; action: ParticipantAction; participants: string[] };
    result: ParticipantResult[];
  };
  getInvite: { args: { group: string }; result: GroupInvite };
  revokeInvite: { args: { group: string }; result: GroupInvite };
  joinGroup: { args: { code: string }; result: { jid: string } };
  leaveGroup: { args: { group: string }; result: null };
  getContact: { args: { jid: string }; result: ContactProfile };
  setBlocked: { args: { jid: string; blocked: boolean }; result: null };
  listBlocked: { args: Record<never, never>; result: string[] };
  subscribePresence: { args: { jid: string }; result: null };
  getProfile: { args: Record<never, never>; result: OwnProfile };
  updateProfile: { args: { about?: string; name?: string }; result: OwnProfile };
  /** `null` removes the picture. */
  setProfilePicture: { args: { jpeg: Uint8Array | null }; result: null };
}

export type AccountOperationKind = keyof Operations;

/** One operation with its arguments, e.g. `{ kind: "getGroup", group: "…@g.us" }`. */
export type AccountOperation = {
  [K in AccountOperationKind]: { kind: K } & Operations[K]["args"];
}[AccountOperationKind];

/** The operation of kind `K`. */
export type AccountOperationOf<K extends AccountOperationKind> = Extract<
  AccountOperation,
  { kind: K }
>;

/** What an operation of kind `K` answers. */
export type AccountOperationResult<K extends AccountOperationKind> = Operations[K]["result"];
