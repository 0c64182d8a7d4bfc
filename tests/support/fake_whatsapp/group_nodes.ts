/** The nodes WhatsApp names a group and its members with, in metadata and notifications. */
import { type BinaryNode, jidDecode } from "@whiskeysockets/baileys";
import type { AdminType, FakeGroup, GroupMember } from "./group_registry.ts";

type MemberOf = (jidOrPhone: string) => GroupMember | null;

/** The `<group>` node of metadata answers, as WhatsApp sends it. */
export function groupNode(group: FakeGroup, memberOf: MemberOf): BinaryNode {
  const creator = memberOf(group.creator);
  const subjectOwner = memberOf(group.subjectOwner);
  const content: BinaryNode[] = [];
  if (group.description) {
    const by = memberOf(group.description.by);
    content.push({
      tag: "description",
      attrs: {
        id: group.description.id,
        t: String(group.description.time),
        ...(by ? { participant: jidIn(group, by) } : {}),
      },
      content: [{
        tag: "body",
        attrs: {},
        content: new TextEncoder().encode(group.description.text),
      }],
    });
  }
  if (group.announce) content.push({ tag: "announcement", attrs: {} });
  if (group.locked) content.push({ tag: "locked", attrs: {} });
  for (const [phone, type] of group.participants) {
    const member = memberOf(phone);
    if (member) content.push(participantNode(group, member, type));
  }
  return {
    tag: "group",
    attrs: {
      id: jidDecode(group.jid)!.user,
      subject: group.subject,
      s_t: String(group.subjectTime),
      ...(subjectOwner ? { s_o: jidIn(group, subjectOwner) } : {}),
      creation: String(group.creation),
      ...(creator ? { creator: jidIn(group, creator) } : {}),
      ...(creator && group.addressingMode === "lid" ? { creator_pn: creator.pn } : {}),
      size: String(group.participants.size),
      addressing_mode: group.addressingMode,
    },
    content,
  };
}

/** How `member` is named in `group` (its LID or its phone number JID). */
export function jidIn(group: FakeGroup, member: GroupMember): string {
  return group.addressingMode === "lid" ? member.lid : member.pn;
}

/** A `<participant>` node, as metadata and notifications name a member. */
export function participantNode(
  group: FakeGroup,
  member: GroupMember,
  type: AdminType,
): BinaryNode {
  const attrs: Record<string, string> = group.addressingMode === "lid"
    ? { jid: member.lid, phone_number: member.pn }
    : { jid: member.pn, lid: member.lid };
  if (type) attrs.type = type;
  return { tag: "participant", attrs };
}
