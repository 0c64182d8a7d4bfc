/**
 * The fake server's social features, wired for `server.ts`: groups (`group_registry.ts`), their
 * messages (`group_messages.ts`) and users' profiles and presence (`contact_profiles.ts`), with
 * the control methods a test drives them by (`fake.groups`, `fake.profiles`).
 */
import type { BinaryNode, proto } from "@whiskeysockets/baileys";
import type { FakeConnection } from "./connection.ts";
import type { FakeDevice } from "./devices.ts";
import type { Directory } from "./directory.ts";
import { type FakeGroup, FakeGroupRegistry, type GroupMember } from "./group_registry.ts";
import {
  type GroupDelivery,
  type GroupDeliveryFailure,
  GroupMessaging,
  type GroupSendRecord,
} from "./group_messages.ts";
import { type FakeBusinessProfile, type FakePresence, FakeProfiles } from "./contact_profiles.ts";
import { FakeAppState } from "./app_state.ts";

export type { FakeGroup, GroupMember } from "./group_registry.ts";
export type { GroupDelivery, GroupDeliveryFailure, GroupSendRecord } from "./group_messages.ts";

/** A group as tests see it. */
export interface GroupView {
  jid: string;
  subject: string;
  description: string | null;
  announce: boolean;
  locked: boolean;
  addressingMode: "lid" | "pn";
  /** Phone number → `superadmin`, `admin` or `null`. */
  participants: Record<string, "superadmin" | "admin" | null>;
  inviteCode: string;
  metadataQueries: number;
}

/** What a test does with the fake's groups. */
export interface FakeGroupsControl {
  /**
   * `creator` (a simulated contact or an account, by phone) creates a group with `members`;
   * every member's online devices are told. Resolves with the group.
   */
  create(group: {
    creator: string;
    subject: string;
    members: string[];
    addressingMode?: "lid" | "pn";
  }): GroupView;
  get(jid: string): GroupView | undefined;
  all(): GroupView[];
  /** `actor` (an admin, by phone) adds, removes, promotes or demotes members (by phone). */
  changeParticipants(
    change: {
      group: string;
      actor: string;
      action: "add" | "remove" | "promote" | "demote";
      participants: string[];
    },
  ): void;
  /** The member's privacy settings let nobody add them (WhatsApp offers an invitation instead). */
  refuseAdds(phone: string): void;
  /** A simulated member sends a text to the group; resolves with its id. */
  sendText(text: { from: string; group: string; text: string }): Promise<{ id: string }>;
  /** A simulated member sends any content to the group. */
  sendMessage(
    message: { from: string; group: string; message: proto.IMessage },
  ): Promise<{ id: string }>;
  /**
   * From now on the server also hands `phone`'s phone every group message, member or not (a
   * compromised server); `leaks()` tells whether it could read them.
   */
  leakTo(phone: string): void;
  leaks(): { id: string; group: string; to: string; decrypted: boolean }[];
  /** Members' devices that could not decrypt a group message. */
  failures(): GroupDeliveryFailure[];
  /** Companions' group messages and whom each gave the sender key to. */
  sends(): GroupSendRecord[];
}

/** What a test sets on the fake's users' profiles. */
export interface FakeProfilesControl {
  setPicture(phone: string, jpeg: Uint8Array | null): void;
  /** The picture the account or contact `phone` has now (as a device uploaded it). */
  picture(phone: string): Uint8Array | undefined;
  /** The picture served under `id` (the last part of its URL). */
  pictureById(id: string): Uint8Array | undefined;
  setAbout(phone: string, text: string): void;
  about(phone: string): string | undefined;
  setBusiness(phone: string, profile: FakeBusinessProfile): void;
  /** The push name the account `phone` set through app state, if any. */
  name(phone: string): string | undefined;
  /** Phone numbers the account `phone` has blocked. */
  blocked(phone: string): string[];
  /** The user comes online or leaves; devices subscribed to their presence are told. */
  setPresence(phone: string, presence: FakePresence): void;
}

export interface SocialFeaturesOptions {
  directory: Directory;
  onlineDevicesOf(phone: string): { device: FakeDevice; connection: FakeConnection }[];
  /** A member's device decrypted a companion's group message. */
  delivered(delivery: GroupDelivery): void | Promise<void>;
  newMessageId(): string;
  /** Where pictures are served (`<base>/<id>`). */
  pictureBaseUrl: string;
}

/** The fake's groups, profiles and presence, with the hooks `server.ts` routes stanzas to. */
export class SocialFeatures {
  readonly groups: FakeGroupRegistry;
  readonly messaging: GroupMessaging;
  readonly profiles: FakeProfiles;
  /** App state keys and settings the accounts' companions sync (their push name). */
  readonly appState = new FakeAppState();
  readonly #directory: Directory;

  constructor(options: SocialFeaturesOptions) {
    this.#directory = options.directory;
    const memberOf = (jidOrPhone: string) => this.memberOf(jidOrPhone);
    this.groups = new FakeGroupRegistry({
      memberOf,
      deliver: (phone, node) => {
        for (const { connection } of options.onlineDevicesOf(phone)) connection.send(node);
      },
    });
    this.messaging = new GroupMessaging({
      groups: this.groups,
      directory: options.directory,
      onlineDevicesOf: options.onlineDevicesOf,
      delivered: options.delivered,
      newMessageId: options.newMessageId,
    });
    this.profiles = new FakeProfiles({
      memberOf,
      pictureUrl: (id) => `${options.pictureBaseUrl}/${id}`,
    });
    options.directory.aboutOf = (phone) => this.profiles.about.get(phone);
  }

  /** Who a phone number or a JID (PN or LID) names, if the fake knows them. */
  memberOf(jidOrPhone: string): GroupMember | null {
    const jid = /^\d+$/.test(jidOrPhone) ? `${jidOrPhone}@s.whatsapp.net` : jidOrPhone;
    const found = this.#directory.resolve(jid);
    if (found.kind === "contact") {
      const contact = found.contact;
      return { phone: contact.phoneNumber, pn: contact.jid, lid: contact.lid };
    }
    if (found.kind === "account") {
      const device = found.devices[0];
      return {
        phone: device.phoneNumber,
        pn: `${device.phoneNumber}@s.whatsapp.net`,
        lid: `${device.lid.split(":")[0]}@lid`,
      };
    }
    return null;
  }

  /** The answer to an iq these features handle, or `null`. */
  answer(device: FakeDevice, node: BinaryNode): BinaryNode | null {
    if (node.attrs.xmlns === "w:g2") return this.groups.answer(device.phoneNumber, node);
    if (node.attrs.xmlns === "w:sync:app:state") {
      return this.appState.answer(device.phoneNumber, node);
    }
    return this.profiles.answer(device.phoneNumber, node);
  }

  presence(connection: FakeConnection, node: BinaryNode): void {
    this.profiles.subscribe(connection, node);
  }

  /** The control methods of `fake.groups`. */
  groupsControl(): FakeGroupsControl {
    const view = (group: FakeGroup): GroupView => ({
      jid: group.jid,
      subject: group.subject,
      description: group.description?.text ?? null,
      announce: group.announce,
      locked: group.locked,
      addressingMode: group.addressingMode,
      participants: Object.fromEntries(group.participants),
      inviteCode: group.inviteCode,
      metadataQueries: group.metadataQueries,
    });
    const required = (jid: string) => {
      const group = this.groups.get(jid);
      if (!group) throw new Error(`no group ${jid}`);
      return group;
    };
    return {
      create: ({ creator, subject, members, addressingMode }) =>
        view(this.groups.create(creator, subject, members, addressingMode)),
      get: (jid) => {
        const group = this.groups.get(jid);
        return group ? view(group) : undefined;
      },
      all: () => this.groups.all().map(view),
      changeParticipants: ({ group, actor, action, participants }) => {
        this.groups.changeParticipants(required(group), actor, action, participants);
      },
      refuseAdds: (phone) => {
        this.groups.addPrivacy.add(phone);
      },
      sendText: ({ from, group, text }) =>
        this.messaging.fromMember(from, group, { conversation: text }),
      sendMessage: ({ from, group, message }) => this.messaging.fromMember(from, group, message),
      leakTo: (phone) => {
        this.messaging.leakTo.add(phone);
      },
      leaks: () => [...this.messaging.leaks],
      failures: () => [...this.messaging.failures],
      sends: () => [...this.messaging.sends],
    };
  }

  /** The control methods of `fake.profiles`. */
  profilesControl(): FakeProfilesControl {
    const profiles = this.profiles;
    return {
      setPicture: (phone, jpeg) => profiles.setPicture(phone, jpeg),
      picture: (phone) => profiles.pictures.get(phone)?.jpeg,
      pictureById: (id) => profiles.pictureById(id),
      setAbout: (phone, text) => {
        profiles.about.set(phone, { text, t: Math.floor(Date.now() / 1000) });
      },
      about: (phone) => profiles.about.get(phone)?.text,
      setBusiness: (phone, profile) => {
        profiles.business.set(phone, profile);
      },
      name: (phone) => this.appState.pushNames.get(phone),
      blocked: (phone) => [...(profiles.blocked.get(phone) ?? [])],
      setPresence: (phone, presence) => profiles.setPresence(phone, presence),
    };
  }
}
