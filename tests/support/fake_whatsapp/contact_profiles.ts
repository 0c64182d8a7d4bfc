/**
 * What the fake server knows of users beyond their keys: profile pictures, about texts, business
 * profiles, each account's block list, and presence (who is online, last seen) sent to the
 * devices that subscribed to it. Answers `w:profile:picture`, `status`, `w:biz` and `blocklist`
 * iqs and `<presence type="subscribe">`.
 */
import {
  type BinaryNode,
  getBinaryNodeChild,
  getBinaryNodeChildren,
} from "@whiskeysockets/baileys";
import type { FakeConnection } from "./connection.ts";
import type { GroupMember } from "./group_registry.ts";
import { iqError } from "./group_registry.ts";

/** A business account's public profile. */
export interface FakeBusinessProfile {
  description: string;
  category?: string;
  email?: string;
  website?: string;
  address?: string;
}

export type FakePresence = { state: "available" | "unavailable"; lastSeen?: number };

export interface ProfilesOptions {
  /** Who a JID or phone number names, when the fake knows them. */
  memberOf(jidOrPhone: string): GroupMember | null;
  /** The URL a picture is served at. */
  pictureUrl(id: string): string;
}

const iqResult = (content?: BinaryNode[]): BinaryNode => ({
  tag: "iq",
  attrs: { type: "result" },
  content,
});

const unixNow = () => Math.floor(Date.now() / 1000);

function bytesOf(node: BinaryNode | undefined): Uint8Array | null {
  const content = node?.content;
  if (content instanceof Uint8Array) return content;
  return typeof content === "string" ? new TextEncoder().encode(content) : null;
}

/** Profiles, block lists and presence of one fake server's users (by phone number). */
export class FakeProfiles {
  readonly #options: ProfilesOptions;
  /** Phone → its profile picture (a JPEG) and the id it is served under. */
  readonly pictures = new Map<string, { id: string; jpeg: Uint8Array }>();
  /** Phone → about text and when it was set (unix seconds). */
  readonly about = new Map<string, { text: string; t: number }>();
  readonly business = new Map<string, FakeBusinessProfile>();
  /** Account phone → phone numbers it blocked. */
  readonly blocked = new Map<string, Set<string>>();
  readonly presence = new Map<string, FakePresence>();
  /** Phone → connections that subscribed to its presence. */
  readonly #subscribers = new Map<string, Set<FakeConnection>>();

  constructor(options: ProfilesOptions) {
    this.#options = options;
  }

  /** Sets a user's picture (a JPEG); `null` removes it. */
  setPicture(phone: string, jpeg: Uint8Array | null): void {
    if (!jpeg) this.pictures.delete(phone);
    else {this.pictures.set(phone, {
        id: String(Date.now() + Math.random()).replace(".", ""),
        jpeg,
      });}
  }

  /** The picture served under `id`, if any. */
  pictureById(id: string): Uint8Array | undefined {
    return [...this.pictures.values()].find((picture) => picture.id === id)?.jpeg;
  }

  /** The answer to a profile iq from `phone`'s device; `null` for one it does not handle. */
  answer(phone: string, node: BinaryNode): BinaryNode | null {
    switch (node.attrs.xmlns) {
      case "w:profile:picture":
        return this.#picture(phone, node);
      case "status":
        if (node.attrs.type !== "set") return null;
        this.about.set(phone, {
          text: new TextDecoder().decode(
            bytesOf(getBinaryNodeChild(node, "status")) ?? new Uint8Array(),
          ),
          t: unixNow(),
        });
        return iqResult();
      case "w:biz":
        return this.#business(node);
      case "blocklist":
        return this.#blocklist(phone, node);
    }
    return null;
  }

  #picture(phone: string, node: BinaryNode): BinaryNode {
    const target = node.attrs.target;
    if (node.attrs.type === "set") {
      // Without a target a device sets its own account's picture.
      const owner = target ? this.#options.memberOf(target)?.phone : phone;
      if (!owner) return iqError("404", "item-not-found");
      const jpeg = bytesOf(getBinaryNodeChild(node, "picture"));
      this.setPicture(owner, jpeg && new Uint8Array(jpeg));
      const id = this.pictures.get(owner)?.id;
      return iqResult(id ? [{ tag: "picture", attrs: { id } }] : undefined);
    }
    const owner = target ? this.#options.memberOf(target)?.phone : phone;
    const picture = owner ? this.pictures.get(owner) : undefined;
    if (!picture) return iqError("404", "item-not-found");
    const type = getBinaryNodeChild(node, "picture")?.attrs.type ?? "preview";
    return iqResult([{
      tag: "picture",
      attrs: { id: picture.id, type, url: this.#options.pictureUrl(picture.id) },
    }]);
  }

  #business(node: BinaryNode): BinaryNode {
    const request = getBinaryNodeChild(node, "business_profile");
    const jid = getBinaryNodeChild(request, "profile")?.attrs.jid ?? "";
    const phone = this.#options.memberOf(jid)?.phone;
    const profile = phone ? this.business.get(phone) : undefined;
    const text = (tag: string, value: string | undefined): BinaryNode[] =>
      value === undefined ? [] : [{ tag, attrs: {}, content: new TextEncoder().encode(value) }];
    return iqResult([{
      tag: "business_profile",
      attrs: { v: "244" },
      content: profile
        ? [{
          tag: "profile",
          attrs: { jid },
          content: [
            ...text("address", profile.address),
            ...text("description", profile.description),
            ...text("website", profile.website),
            ...text("email", profile.email),
            ...(profile.category
              ? [{
                tag: "categories",
                attrs: {},
                content: [{
                  tag: "category",
                  attrs: { id: "1" },
                  content: new TextEncoder().encode(profile.category),
                }],
              }]
              : []),
          ],
        }]
        : undefined,
    }]);
  }

  #blocklist(phone: string, node: BinaryNode): BinaryNode {
    const list = this.blocked.get(phone) ?? new Set<string>();
    this.blocked.set(phone, list);
    if (node.attrs.type === "set") {
      for (const item of getBinaryNodeChildren(node, "item")) {
        const member = this.#options.memberOf(item.attrs.pn_jid ?? item.attrs.jid ?? "");
        if (!member) return iqError("404", "item-not-found");
        if (item.attrs.action === "block") list.add(member.phone);
        else list.delete(member.phone);
      }
      return iqResult();
    }
    return iqResult([{
      tag: "list",
      attrs: {},
      content: [...list].map((blocked) => ({
        tag: "item",
        attrs: { jid: this.#options.memberOf(blocked)?.lid ?? `${blocked}@s.whatsapp.net` },
      })),
    }]);
  }

  /** A device subscribed to a user's presence: it gets the current one now and every change. */
  subscribe(connection: FakeConnection, node: BinaryNode): void {
    if (node.attrs.type !== "subscribe" || !node.attrs.to) return;
    const member = this.#options.memberOf(node.attrs.to);
    if (!member) return;
    const subscribers = this.#subscribers.get(member.phone) ?? new Set();
    subscribers.add(connection);
    this.#subscribers.set(member.phone, subscribers);
    const presence = this.presence.get(member.phone);
    if (presence) connection.send(this.#presenceNode(node.attrs.to, presence));
  }

  /** A user comes online or goes away: told to the devices subscribed to them. */
  setPresence(phone: string, presence: FakePresence): void {
    this.presence.set(phone, presence);
    for (const connection of this.#subscribers.get(phone) ?? []) {
      if (!connection.isOpen) continue;
      connection.send(this.#presenceNode(`${phone}@s.whatsapp.net`, presence));
    }
  }

  #presenceNode(jid: string, presence: FakePresence): BinaryNode {
    return {
      tag: "presence",
      attrs: {
        from: jid,
        type: presence.state,
        ...(presence.state === "unavailable" && presence.lastSeen
          ? { last: String(presence.lastSeen) }
          : {}),
      },
    };
  }
}
