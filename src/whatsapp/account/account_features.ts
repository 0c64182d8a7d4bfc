import type { SocketConfig } from "@whiskeysockets/baileys";
import type { AccountOperation } from "../../domain/account_operations.ts";
import type { AccountEvent } from "../../domain/account_events.ts";
import type { WASocket } from "../baileys_connection.ts";
import type { Logger } from "../../logger.ts";
import { GroupMetadataCache } from "./group_metadata_cache.ts";
import { GroupOperations } from "./group_operations.ts";
import { ContactOperations } from "./contact_operations.ts";
import { watchAccountEvents } from "./account_event_watcher.ts";

/**
 * One connection's groups, contacts, presence and profile: the operations it runs, the events it
 * reports, and the group metadata cache behind Baileys' `cachedGroupMetadata`.
 */
export class AccountFeatures {
  readonly cache = new GroupMetadataCache();
  readonly #groups = new GroupOperations(this.cache);
  readonly #contacts = new ContactOperations();
  readonly #report: (event: AccountEvent) => void;
  readonly #logger: Logger;

  constructor(report: (event: AccountEvent) => void, logger: Logger) {
    this.#report = report;
    this.#logger = logger;
  }

  /** What the socket's config needs: the cache, filled from WhatsApp on a miss. */
  socketConfig(
    currentSocket: () => WASocket | undefined,
  ): Pick<SocketConfig, "cachedGroupMetadata"> {
    return {
      cachedGroupMetadata: (jid) => {
        const socket = currentSocket();
        if (!socket) return Promise.resolve(undefined);
        return this.cache.lookup(jid, (group) => socket.groupMetadata(group));
      },
    };
  }

  /** Watches a new socket's group and presence reports; the cache starts over with it. */
  watch(socket: WASocket, isCurrent: () => boolean): void {
    this.cache.clear();
    watchAccountEvents(socket, isCurrent, {
      cache: this.cache,
      isMe: (s, participant) => this.#groups.isMe(s, participant),
      report: this.#report,
      onError: (error) => {
        this.#logger.warn({ err: error }, "rotating a group's sender key failed");
      },
    });
  }

  /** Runs one operation on a connected socket. */
  run(socket: WASocket, operation: AccountOperation): Promise<unknown> {
    const groups = this.#groups;
    const contacts = this.#contacts;
    switch (operation.kind) {
      case "listGroups":
        return groups.list(socket);
      case "getGroup":
        return groups.get(socket, operation.group);
      case "createGroup":
        return groups.create(socket, operation.subject, operation.participants);
      case "updateGroup":
        return groups.update(socket, operation.group, operation.changes);
      case "changeParticipants":
        return groups.changeParticipants(
          socket,
          operation.group,
          operation.action,
          operation.participants,
        );
      case "getInvite":
        return groups.invite(socket, operation.group, false);
      case "revokeInvite":
        return groups.invite(socket, operation.group, true);
      case "joinGroup":
        return groups.join(socket, operation.code);
      case "leaveGroup":
        return groups.leave(socket, operation.group);
      case "getContact":
        return contacts.contact(socket, operation.jid);
      case "setBlocked":
        return contacts.setBlocked(socket, operation.jid, operation.blocked);
      case "listBlocked":
        return contacts.blocked(socket);
      case "subscribePresence":
        return contacts.subscribePresence(socket, operation.jid);
      case "getProfile":
        return contacts.profile(socket);
      case "updateProfile":
        return contacts.updateProfile(socket, operation);
      case "setProfilePicture":
        return contacts.setPicture(socket, operation.jpeg);
    }
  }
}
