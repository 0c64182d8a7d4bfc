/**
 * The fake server's groups: who is in each and with which rights, subject, description, settings
 * and invite code, and the `w:g2` iqs that read and change them. Every change is told to the
 * members' online devices as a `w:gp2` notification, as WhatsApp does (Baileys turns those into
 * `groups.update` and `group-participants.update`).
 */
import { type BinaryNode, getBinaryNodeChild } from "@whiskeysockets/baileys";
import { groupNode, jidIn, participantNode } from "./group_nodes.ts";

export type AdminType = "superadmin" | "admin" | null;

/** A user as a group sees them: phone number, PN JID and LID (user level). */
export interface GroupMember {
  phone: string;
  pn: string;
  lid: string;
}

export interface FakeGroup {
  /** `<digits>@g.us`. */
  jid: string;
  subject: string;
  subjectOwner: string;
  subjectTime: number;
  creation: number;
  /** The creator's phone number. */
  creator: string;
  description: { id: string; text: string; time: number; by: string } | null;
  /** Only admins send messages. */
  announce: boolean;
  /** Only admins edit the group's info. */
  locked: boolean;
  /** How participants are named on the wire: by LID (today's groups) or by phone number. */
  addressingMode: "lid" | "pn";
  /** Phone number → admin type. */
  participants: Map<string, AdminType>;
  inviteCode: string;
  /** How many metadata queries (`<query request="interactive">`) members sent. */
  metadataQueries: number;
}

export interface GroupRegistryOptions {
  /** Who a JID or phone number names, when it is a WhatsApp user the fake knows. */
  memberOf(jidOrPhone: string): GroupMember | null;
  /** Sends a node to every online device of an account (members that are only contacts get none). */
  deliver(phone: string, node: BinaryNode): void;
}

const unixNow = () => Math.floor(Date.now() / 1000);
const newId = () => crypto.randomUUID().replaceAll("-", "").slice(0, 16).toUpperCase();
const INVITE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

function newInviteCode(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(22));
  return Array.from(bytes, (byte) => INVITE_ALPHABET[byte % INVITE_ALPHABET.length]).join("");
}

const iqResult = (content?: BinaryNode[]): BinaryNode => ({
  tag: "iq",
  attrs: { type: "result" },
  content,
});

/** An iq error as WhatsApp answers it (Baileys' `query()` throws a Boom with code and text). */
export const iqError = (code: string, text: string): BinaryNode => ({
  tag: "iq",
  attrs: { type: "error" },
  content: [{ tag: "error", attrs: { code, text } }],
});

function childrenOf(node: BinaryNode | undefined): BinaryNode[] {
  return Array.isArray(node?.content) ? node.content : [];
}

function textOf(node: BinaryNode | undefined): string {
  const content = node?.content;
  if (typeof content === "string") return content;
  return content instanceof Uint8Array ? new TextDecoder().decode(content) : "";
}

const PARTICIPANT_ACTIONS = new Set(["add", "remove", "promote", "demote"]);
const SETTINGS = new Set(["announcement", "not_announcement", "locked", "unlocked"]);

/** The groups of one fake server. */
export class FakeGroupRegistry {
  readonly #groups = new Map<string, FakeGroup>();
  readonly #options: GroupRegistryOptions;
  /** Phone numbers whose privacy settings keep others from adding them to groups. */
  readonly addPrivacy = new Set<string>();
  #nextGroup = 1;

  constructor(options: GroupRegistryOptions) {
    this.#options = options;
  }

  get(jid: string): FakeGroup | undefined {
    return this.#groups.get(jid);
  }

  all(): FakeGroup[] {
    return [...this.#groups.values()];
  }

  /** Creates a group as `creator` (superadmin) with `members`; told to every member's devices. */
  create(
    creator: string,
    subject: string,
    members: string[],
    addressingMode: "lid" | "pn" = "lid",
  ): FakeGroup {
    const jid = `1203630${String(this.#nextGroup++).padStart(11, "0")}@g.us`;
    const now = unixNow();
    const group: FakeGroup = {
      jid,
      subject,
      subjectOwner: creator,
      subjectTime: now,
      creation: now,
      creator,
      description: null,
      announce: false,
      locked: false,
      addressingMode,
      participants: new Map([[creator, "superadmin"]]),
      inviteCode: newInviteCode(),
      metadataQueries: 0,
    };
    for (const phone of members) if (phone !== creator) group.participants.set(phone, null);
    this.#groups.set(jid, group);
    this.#notify(group, creator, {
      tag: "create",
      attrs: {},
      content: [this.groupNode(group)],
    });
    return group;
  }

  /**
   * Adds, removes, promotes or demotes `targets` as `actor`, as WhatsApp does: one result per
   * target (an `error` code for those it refuses), one notification for the changes it made.
   */
  changeParticipants(
    group: FakeGroup,
    actor: string,
    action: "add" | "remove" | "promote" | "demote",
    targets: string[],
  ): BinaryNode[] {
    const results: BinaryNode[] = [];
    const changed: GroupMember[] = [];
    for (const target of targets) {
      const member = this.#options.memberOf(target);
      const jid = target.includes("@") ? target : `${target}@s.whatsapp.net`;
      const error = this.#participantError(group, action, member);
      if (error) {
        results.push({
          tag: "participant",
          attrs: { jid, error: error.code },
          content: error.content,
        });
        continue;
      }
      const phone = member!.phone;
      if (action === "add") group.participants.set(phone, null);
      if (action === "remove") group.participants.delete(phone);
      if (action === "promote") group.participants.set(phone, "admin");
      if (action === "demote") group.participants.set(phone, null);
      changed.push(member!);
      results.push({ tag: "participant", attrs: { jid } });
    }
    if (changed.length) {
      this.#notify(group, actor, {
        tag: action,
        attrs: {},
        content: changed.map((member) => participantNode(group, member, null)),
      }, action === "remove" ? changed.map((member) => member.phone) : []);
    }
    return results;
  }

  #participantError(
    group: FakeGroup,
    action: string,
    member: GroupMember | null,
  ): { code: string; content?: BinaryNode[] } | null {
    if (!member) return { code: "404" };
    const inGroup = group.participants.has(member.phone);
    if (action === "add") {
      if (inGroup) return { code: "409" };
      if (this.addPrivacy.has(member.phone)) {
        // Their privacy settings allow only an invitation, which WhatsApp offers instead.
        const expiration = String(unixNow() + 3 * 86_400);
        return {
          code: "403",
          content: [{ tag: "add_request", attrs: { code: newInviteCode(), expiration } }],
        };
      }
      return null;
    }
    if (!inGroup) return { code: "404" };
    if (action !== "remove" && group.creator === member.phone) return { code: "406" };
    return null;
  }

  /** The answer to a `w:g2` iq from `phone`'s device. */
  answer(phone: string, node: BinaryNode): BinaryNode {
    const { to, type } = node.attrs;
    const [child] = childrenOf(node);
    if (!child) return iqError("400", "bad-request");
    if (to === "@g.us") return this.#answerGlobal(phone, type, child);
    const group = this.#groups.get(to);
    if (!group) return iqError("404", "item-not-found");
    if (!group.participants.has(phone)) return iqError("403", "forbidden");
    const admin = group.participants.get(phone) !== null;
    if (type === "get" && child.tag === "query") {
      group.metadataQueries++;
      return iqResult([this.groupNode(group)]);
    }
    if (child.tag === "subject" || child.tag === "description") {
      if (group.locked && !admin) return iqError("403", "forbidden");
      return this.#editInfo(group, phone, child);
    }
    if (!admin) return iqError("403", "forbidden");
    if (PARTICIPANT_ACTIONS.has(child.tag) && type === "set") {
      const targets = childrenOf(child).map((p) => p.attrs.jid).filter(Boolean);
      const action = child.tag as "add" | "remove" | "promote" | "demote";
      const results = this.changeParticipants(group, phone, action, targets);
      return iqResult([{ tag: action, attrs: {}, content: results }]);
    }
    if (child.tag === "invite") {
      if (type === "set") {
        group.inviteCode = newInviteCode();
        this.#notify(group, phone, { tag: "invite", attrs: { code: group.inviteCode } });
      }
      return iqResult([{ tag: "invite", attrs: { code: group.inviteCode } }]);
    }
    if (SETTINGS.has(child.tag) && type === "set") {
      if (child.tag === "announcement" || child.tag === "not_announcement") {
        group.announce = child.tag === "announcement";
      } else {
        group.locked = child.tag === "locked";
      }
      this.#notify(group, phone, { tag: child.tag, attrs: {} });
      return iqResult();
    }
    return iqError("501", "feature-not-implemented");
  }

  #answerGlobal(phone: string, type: string, child: BinaryNode): BinaryNode {
    if (type === "get" && child.tag === "participating") {
      const mine = this.all().filter((group) => group.participants.has(phone));
      return iqResult([{
        tag: "groups",
        attrs: {},
        content: mine.map((group) => this.groupNode(group)),
      }]);
    }
    if (type === "set" && child.tag === "create") {
      const members = childrenOf(child).map((p) => this.#options.memberOf(p.attrs.jid))
        .filter((member) => member !== null && !this.addPrivacy.has(member.phone))
        .map((member) => member!.phone);
      const group = this.create(phone, child.attrs.subject ?? "", members);
      return iqResult([this.groupNode(group)]);
    }
    if (type === "set" && child.tag === "leave") {
      for (const entry of childrenOf(child)) {
        const group = this.#groups.get(this.#groupJid(entry.attrs.id ?? ""));
        const me = this.#options.memberOf(phone);
        if (!group || !me || !group.participants.has(phone)) continue;
        group.participants.delete(phone);
        this.#notify(group, phone, {
          tag: "remove",
          attrs: {},
          content: [participantNode(group, me, null)],
        }, [phone]);
      }
      return iqResult([{ tag: "leave", attrs: {}, content: childrenOf(child) }]);
    }
    if (child.tag === "invite" && child.attrs.code) {
      const group = this.all().find((g) => g.inviteCode === child.attrs.code);
      if (!group) return iqError("404", "item-not-found");
      if (type === "get") return iqResult([this.groupNode(group)]);
      const me = this.#options.memberOf(phone);
      if (me && !group.participants.has(phone)) {
        group.participants.set(phone, null);
        this.#notify(group, phone, {
          tag: "add",
          attrs: { reason: "invite" },
          content: [participantNode(group, me, null)],
        });
      }
      return iqResult([{ tag: "group", attrs: { jid: group.jid } }]);
    }
    return iqError("501", "feature-not-implemented");
  }

  #editInfo(group: FakeGroup, phone: string, child: BinaryNode): BinaryNode {
    const now = unixNow();
    if (child.tag === "subject") {
      group.subject = textOf(child);
      group.subjectOwner = phone;
      group.subjectTime = now;
      const owner = this.#options.memberOf(phone)!;
      this.#notify(group, phone, {
        tag: "subject",
        attrs: {
          subject: group.subject,
          s_o: jidIn(group, owner),
          s_t: String(now),
        },
      });
      return iqResult();
    }
    const deleted = child.attrs.delete === "true";
    group.description = deleted ? null : {
      id: child.attrs.id ?? newId(),
      text: textOf(getBinaryNodeChild(child, "body")),
      time: now,
      by: phone,
    };
    this.#notify(group, phone, {
      tag: "description",
      attrs: { id: group.description?.id ?? newId() },
      content: group.description
        ? [{ tag: "body", attrs: {}, content: new TextEncoder().encode(group.description.text) }]
        : [{ tag: "delete", attrs: {} }],
    });
    return iqResult();
  }

  /** The `<group>` node of metadata answers, as WhatsApp sends it. */
  groupNode(group: FakeGroup): BinaryNode {
    return groupNode(group, this.#options.memberOf);
  }

  #groupJid(id: string): string {
    return id.includes("@") ? id : `${id}@g.us`;
  }

  /** A `w:gp2` notification of `change` by `actor`, to every member (and `also`, who just left). */
  #notify(group: FakeGroup, actor: string, change: BinaryNode, also: string[] = []): void {
    const by = this.#options.memberOf(actor);
    const attrs: Record<string, string> = {
      from: group.jid,
      type: "w:gp2",
      id: newId(),
      t: String(unixNow()),
      addressing_mode: group.addressingMode,
    };
    if (by) {
      attrs.participant = jidIn(group, by);
      if (group.addressingMode === "lid") attrs.participant_pn = by.pn;
      else attrs.participant_lid = by.lid;
    }
    const node: BinaryNode = { tag: "notification", attrs, content: [change] };
    for (const phone of new Set([...group.participants.keys(), ...also])) {
      this.#options.deliver(phone, node);
    }
  }
}
