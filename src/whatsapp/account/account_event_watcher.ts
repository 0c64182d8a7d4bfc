import {
  type GroupMetadata,
  type GroupParticipant,
  jidNormalizedUser,
} from "@whiskeysockets/baileys";
import type { AccountEvent, GroupUpdate } from "../../domain/account_events.ts";
import { PARTICIPANT_ACTIONS, type ParticipantAction } from "../../domain/groups.ts";
import { type Presence, PRESENCES } from "../../domain/contacts.ts";
import type { WASocket } from "../baileys_connection.ts";
import { type GroupMetadataCache, sameParticipant } from "./group_metadata_cache.ts";
import { participantOf } from "./group_operations.ts";
import { rotateSenderKey } from "./sender_key_rotation.ts";

type Participant = Pick<GroupParticipant, "id" | "phoneNumber" | "lid">;

export interface AccountEventWatcherOptions {
  cache: GroupMetadataCache;
  isMe: (socket: WASocket, participant: Participant) => boolean;
  report: (event: AccountEvent) => void;
  /** A sender key rotation failed (the next send then keeps the old key). */
  onError: (error: unknown) => void;
}

/**
 * Who made a change, by phone number JID where it can be told: Baileys drops the PN of a
 * LID-addressed notification's author, so it is looked up among the group's known participants
 * and the account itself.
 */
function authorOf(
  socket: WASocket,
  cache: GroupMetadataCache,
  group: string,
  update: { author?: string | null; authorPn?: string | null },
): string | null {
  const author = update.authorPn ?? update.author;
  if (!author) return null;
  const named = { id: jidNormalizedUser(author) };
  const me = socket.user;
  if (me?.id && me.lid && sameParticipant({ id: me.id, lid: me.lid }, named)) {
    return jidNormalizedUser(me.id);
  }
  const known = cache.get(group)?.participants.find((p) => sameParticipant(p, named));
  return participantOf(known ?? named).jid;
}

/** The changes a `groups.update` entry carries, in the gateway's words. */
function changesOf(update: Partial<GroupMetadata>): GroupUpdate["changes"] {
  const changes: GroupUpdate["changes"] = {};
  if (update.subject !== undefined) changes.subject = update.subject;
  if ("desc" in update) changes.description = update.desc ?? null;
  if (update.announce !== undefined) changes.announce = update.announce;
  if (update.restrict !== undefined) changes.locked = update.restrict;
  if (update.memberAddMode !== undefined) changes.membersCanAdd = update.memberAddMode;
  if (update.joinApprovalMode !== undefined) changes.joinApproval = update.joinApprovalMode;
  const inviteCode = (update as { inviteCode?: string }).inviteCode;
  if (inviteCode !== undefined) changes.inviteCode = inviteCode;
  return changes;
}

const toParticipant = (entry: Participant | string): Participant =>
  typeof entry === "string" ? { id: entry } : entry;

/**
 * Turns what Baileys reports of groups and presence into the gateway's events, and keeps the
 * group metadata cache current from the same reports.
 */
export function watchAccountEvents(
  socket: WASocket,
  isCurrent: () => boolean,
  options: AccountEventWatcherOptions,
): void {
  const { cache } = options;
  // Reports leave in the order Baileys gave them, each after the work before it (a rotation).
  let queue = Promise.resolve();
  const after = (work: () => Promise<void>) => {
    queue = queue.then(work).catch((error) => options.onError(error));
  };
  const report = (event: AccountEvent) => after(() => Promise.resolve(options.report(event)));
  socket.ev.on("groups.update", (updates) => {
    if (!isCurrent()) return;
    for (const update of updates) {
      if (!update.id) continue;
      // A full refresh (the group list, a `dirty` bit) is no change anyone made.
      if (Array.isArray(update.participants)) {
        cache.set(update as GroupMetadata);
        continue;
      }
      cache.applyUpdate(update);
      const changes = changesOf(update);
      if (Object.keys(changes).length === 0) continue;
      const author = authorOf(socket, cache, update.id, update);
      report({ type: "group.updated", group: update.id, author, changes });
    }
  });
  socket.ev.on("groups.upsert", (groups) => {
    if (!isCurrent()) return;
    for (const group of groups) {
      cache.set(group);
      report({
        type: "group.participants",
        group: group.id,
        action: "add",
        author: authorOf(socket, cache, group.id, group as { author?: string }),
        participants: group.participants.map(withoutAdmin),
      });
    }
  });
  socket.ev.on("group-participants.update", (update) => {
    if (!isCurrent()) return;
    const action = update.action as ParticipantAction;
    if (!PARTICIPANT_ACTIONS.includes(action)) return;
    const participants = (update.participants as (Participant | string)[]).map(toParticipant);
    // Told before the change: a removed author (who left) is still among the known.
    const author = authorOf(socket, cache, update.id, update);
    cache.applyParticipants(update.id, action, participants, (p) => options.isMe(socket, p));
    // A removal this account made rotated the key already (`GroupOperations`).
    const byMe = author !== null && options.isMe(socket, { id: author });
    if (action === "remove" && !byMe && !participants.some((p) => options.isMe(socket, p))) {
      // Before the event: whoever sends on hearing of the removal sends with the new key.
      after(() => rotateSenderKey(socket, update.id));
    }
    report({
      type: "group.participants",
      group: update.id,
      action,
      author,
      participants: participants.map(withoutAdmin),
    });
  });
  socket.ev.on("presence.update", ({ id, presences }) => {
    if (!isCurrent()) return;
    for (const [jid, { lastKnownPresence, lastSeen }] of Object.entries(presences)) {
      if (!PRESENCES.includes(lastKnownPresence as Presence)) continue;
      report({
        type: "presence.update",
        chat: jidNormalizedUser(id),
        jid: jidNormalizedUser(jid),
        presence: lastKnownPresence as Presence,
        lastSeen: lastSeen ? new Date(lastSeen * 1000).toISOString() : null,
      });
    }
  });
}

function withoutAdmin(participant: Participant) {
  const { admin: _admin, ...rest } = participantOf(participant);
  return rest;
}
