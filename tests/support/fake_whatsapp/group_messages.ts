/**
 * Messages in the fake's groups. A companion's group message carries one `skmsg` for everyone
 * and, for devices that do not have its sender key yet, pairwise copies of the key
 * (`<participants><to>`); the server fans the `skmsg` out to the devices of the group's current
 * members, and each simulated member decrypts it with the key it was given. A simulated member
 * sends the same way: its own sender key, distributed to each companion once.
 */
import {
  type BinaryNode,
  getBinaryNodeChild,
  getBinaryNodeChildren,
  type proto,
} from "@whiskeysockets/baileys";
import type { SimulatedContact } from "./contacts.ts";
import type { FakeDevice } from "./devices.ts";
import { companionBundle, contactCopy, type Directory } from "./directory.ts";
import type { FakeConnection } from "./connection.ts";
import type { FakeGroup, FakeGroupRegistry } from "./group_registry.ts";

/** What a simulated member's device decrypted of a companion's group message. */
export interface GroupDelivery {
  id: string;
  group: string;
  /** The sending account's phone number. */
  from: string;
  /** The member's phone number. */
  to: string;
  device: number;
  message: proto.IMessage;
}

/** A member's device that got a group message it could not decrypt. */
export interface GroupDeliveryFailure {
  id: string;
  group: string;
  to: string;
  device: number;
  error: string;
}

/** What a companion's group message carried besides the `skmsg`. */
export interface GroupSendRecord {
  id: string;
  group: string;
  from: string;
  /** Device JIDs that got the sender key in this message (pairwise copies). */
  senderKeyTo: string[];
}

export interface GroupMessagingOptions {
  groups: FakeGroupRegistry;
  directory: Directory;
  /** The online companions of an account. */
  onlineDevicesOf(phone: string): { device: FakeDevice; connection: FakeConnection }[];
  /** A member decrypted a message (recorded for tests to wait on). */
  delivered(delivery: GroupDelivery): void | Promise<void>;
  newMessageId(): string;
}

const unixNow = () => String(Math.floor(Date.now() / 1000));
const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Group message fan-out, both ways, for one fake server. */
export class GroupMessaging {
  readonly #options: GroupMessagingOptions;
  readonly failures: GroupDeliveryFailure[] = [];
  readonly sends: GroupSendRecord[] = [];
  /**
   * Phone numbers the server leaks group messages to even when they are not (or no longer)
   * members, as a compromised server could: what each could decrypt is in `leaks`.
   */
  readonly leakTo = new Set<string>();
  readonly leaks: { id: string; group: string; to: string; decrypted: boolean }[] = [];
  /** `member|group|deviceJid` of companions a member gave its sender key to. */
  readonly #distributed = new Set<string>();

  constructor(options: GroupMessagingOptions) {
    this.#options = options;
  }

  /** Why the server refuses a companion's group message (the ack's error code), or `null`. */
  refusal(sender: FakeDevice, node: BinaryNode): string | null {
    const group = this.#options.groups.get(node.attrs.to);
    if (!group) return "404";
    return group.participants.has(sender.phoneNumber) ? null : "403";
  }

  /**
   * A companion's message to a group (one the server took, see `refusal`): members decrypt it.
   * Resolves once every member's device has it.
   */
  async fromCompanion(sender: FakeDevice, node: BinaryNode): Promise<void> {
    const group = this.#options.groups.get(node.attrs.to)!;
    // Signal's work is a chain of resolved promises that would keep the ack just sent (and every
    // other frame) from going out until all of it is done: let the event loop write first.
    await nextTask();
    const author = group.addressingMode === "lid" ? sender.lid : sender.jid;
    const copies = getBinaryNodeChildren(getBinaryNodeChild(node, "participants"), "to");
    const senderKeyTo: string[] = [];
    for (const copy of copies) {
      const target = contactCopy(this.#options.directory, copy);
      if (!target) continue;
      const { contact, device } = target;
      const message = await contact.decrypt(sender.lid, target.type, target.ciphertext, device);
      if (message.senderKeyDistributionMessage) {
        await contact.processSenderKey(author, message.senderKeyDistributionMessage, device);
        senderKeyTo.push(copy.attrs.jid);
      }
    }
    this.sends.push({ id: node.attrs.id, group: group.jid, from: sender.phoneNumber, senderKeyTo });
    const skmsg = getBinaryNodeChildren(node, "enc").find((enc) => enc.attrs.type === "skmsg");
    if (!(skmsg?.content instanceof Uint8Array)) return;
    for (const phone of this.leakTo) {
      const contact = this.#options.directory.contacts.get(phone);
      if (!contact || group.participants.has(phone)) continue;
      const decrypted = await contact.decryptGroup(group.jid, author, skmsg.content).then(
        () => true,
        () => false,
      );
      this.leaks.push({ id: node.attrs.id, group: group.jid, to: phone, decrypted });
    }
    // The server's own member list decides who gets it, whatever the sender thought.
    for (const phone of group.participants.keys()) {
      if (phone === sender.phoneNumber) continue;
      const contact = this.#options.directory.contacts.get(phone);
      if (contact) {
        await this.#decryptFor(contact, group, author, node.attrs.id, sender, skmsg.content);
        await nextTask();
      }
    }
  }

  async #decryptFor(
    contact: SimulatedContact,
    group: FakeGroup,
    author: string,
    id: string,
    sender: FakeDevice,
    ciphertext: Uint8Array,
  ): Promise<void> {
    for (const device of contact.deviceNumbers) {
      try {
        const message = await contact.decryptGroup(group.jid, author, ciphertext, device);
        await this.#options.delivered({
          id,
          group: group.jid,
          from: sender.phoneNumber,
          to: contact.phoneNumber,
          device,
          message,
        });
      } catch (error) {
        this.failures.push({
          id,
          group: group.jid,
          to: contact.phoneNumber,
          device,
          error: String((error as Error)?.message ?? error),
        });
      }
    }
  }

  /**
   * A simulated member sends `message` to the group: every online companion of the accounts in
   * it gets the `skmsg`, with the member's sender key the first time. Resolves with the id.
   */
  async fromMember(
    from: string,
    groupJid: string,
    message: proto.IMessage,
  ): Promise<{ id: string }> {
    const group = this.#options.groups.get(groupJid);
    if (!group) throw new Error(`no group ${groupJid}`);
    if (!group.participants.has(from)) throw new Error(`${from} is not in ${groupJid}`);
    const contact = this.#options.directory.contacts.get(from);
    if (!contact) throw new Error(`no simulated contact ${from}`);
    const author = group.addressingMode === "lid" ? contact.lid : contact.jid;
    const { ciphertext, senderKeyDistributionMessage } = await contact.encryptGroup(
      group.jid,
      author,
      message,
    );
    const id = this.#options.newMessageId();
    for (const phone of group.participants.keys()) {
      for (const { device, connection } of this.#options.onlineDevicesOf(phone)) {
        const content: BinaryNode[] = [];
        const key = `${from}|${group.jid}|${device.jid}`;
        if (!this.#distributed.has(key)) {
          const distribution: proto.IMessage = {
            senderKeyDistributionMessage: {
              groupId: group.jid,
              axolotlSenderKeyDistributionMessage: senderKeyDistributionMessage,
            },
          };
          const { type, ciphertext: copy } = await contact.encryptMessage(
            device.lid,
            distribution,
            () => companionBundle(device, device.lid),
          );
          content.push({ tag: "enc", attrs: { v: "2", type }, content: copy });
          this.#distributed.add(key);
        }
        content.push({ tag: "enc", attrs: { v: "2", type: "skmsg" }, content: ciphertext });
        connection.send({
          tag: "message",
          attrs: {
            from: group.jid,
            participant: author,
            ...(group.addressingMode === "lid"
              ? { participant_pn: contact.jid }
              : { participant_lid: contact.lid }),
            addressing_mode: group.addressingMode,
            type: "text",
            id,
            t: unixNow(),
            notify: contact.pushName ?? "",
          },
          content,
        });
      }
    }
    return { id };
  }
}
