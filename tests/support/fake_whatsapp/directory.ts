import {
  type BinaryNode,
  getBinaryNodeChild,
  getBinaryNodeChildren,
  jidDecode,
} from "@whiskeysockets/baileys";
import type { SimulatedContact } from "./contacts.ts";
import type { DeviceRegistry, FakeDevice } from "./devices.ts";

/** Who a JID (PN or LID, with or without a device) names on the fake server. */
export type Resolved =
  | { kind: "contact"; contact: SimulatedContact }
  | { kind: "account"; devices: FakeDevice[] }
  | { kind: "unknown" };

/** Looks users up by phone number or LID, and answers usync and key bundle queries. */
export class Directory {
  readonly contacts = new Map<string, SimulatedContact>();
  /** A user's about text and when it was set (unix seconds), for usync's `status` protocol. */
  aboutOf: (phone: string) => { text: string; t: number } | undefined = () => undefined;
  constructor(readonly registry: DeviceRegistry) {}

  resolve(jid: string): Resolved {
    const decoded = jidDecode(jid);
    if (!decoded?.user) return { kind: "unknown" };
    const contact = decoded.server === "lid"
      ? [...this.contacts.values()].find((c) => c.lid === `${decoded.user}@lid`)
      : this.contacts.get(decoded.user);
    if (contact) return { kind: "contact", contact };
    const devices = this.registry.all().filter((d) =>
      !d.removed &&
      (decoded.server === "lid"
        ? d.lid.startsWith(`${decoded.user}:`)
        : d.phoneNumber === decoded.user)
    );
    const wanted = decoded.device
      ? devices.filter((d) => d.deviceNumber === decoded.device)
      : devices;
    return wanted.length ? { kind: "account", devices: wanted } : { kind: "unknown" };
  }

  usync(node: BinaryNode): BinaryNode {
    const usync = getBinaryNodeChild(node, "usync")!;
    // The protocols asked for, e.g. `devices` + `lid` (before sending) or `contact` (a number
    // check): each user is answered with those only, as WhatsApp does.
    const asked = new Set(childTags(getBinaryNodeChild(usync, "query")));
    const users = getBinaryNodeChildren(getBinaryNodeChild(usync, "list"), "user");
    const answers = users.map((user) =>
      asked.has("contact")
        ? this.#contactAnswer(user)
        : asked.has("status")
        ? this.#statusAnswer(user)
        : this.#devicesAnswer(user)
    );
    const protocols = asked.has("contact")
      ? ["contact"]
      : asked.has("status")
      ? ["status"]
      : ["devices", "lid"];
    return {
      tag: "iq",
      attrs: { type: "result" },
      content: [{
        tag: "usync",
        attrs: usync.attrs,
        content: [
          {
            tag: "result",
            attrs: {},
            content: protocols.map((tag) => ({ tag, attrs: {} })),
          },
          { tag: "list", attrs: {}, content: answers },
        ],
      }],
    };
  }

  /** `<contact type="in|out"/>` for a user asked by phone number (`<contact>+digits</contact>`). */
  #contactAnswer(user: BinaryNode): BinaryNode {
    const raw = getBinaryNodeChild(user, "contact")?.content;
    const phone = typeof raw === "string"
      ? raw
      : raw instanceof Uint8Array
      ? new TextDecoder().decode(raw)
      : "";
    const digits = phone.replace(/^\+/, "");
    const jid = /^\d{6,15}$/.test(digits) ? `${digits}@s.whatsapp.net` : user.attrs.jid ?? "";
    const known = jid !== "" && this.resolve(jid).kind !== "unknown";
    return {
      tag: "user",
      attrs: { jid },
      content: [{ tag: "contact", attrs: { type: known ? "in" : "out" } }],
    };
  }

  /** `<status t>text</status>`, or an empty one for a user without an about text. */
  #statusAnswer(user: BinaryNode): BinaryNode {
    const jid = user.attrs.jid;
    const found = this.resolve(jid);
    const phone = found.kind === "contact"
      ? found.contact.phoneNumber
      : found.kind === "account"
      ? found.devices[0].phoneNumber
      : undefined;
    const about = phone ? this.aboutOf(phone) : undefined;
    return {
      tag: "user",
      attrs: { jid },
      content: [{
        tag: "status",
        attrs: { t: String(about?.t ?? 0) },
        content: about ? new TextEncoder().encode(about.text) : undefined,
      }],
    };
  }

  #devicesAnswer(user: BinaryNode): BinaryNode {
    const jid = user.attrs.jid;
    const found = this.resolve(jid);
    const deviceList: BinaryNode[] = found.kind === "contact"
      ? found.contact.deviceNumbers.map((id): BinaryNode => ({
        tag: "device",
        attrs: id === 0 ? { id: "0" } : { id: String(id), "key-index": "1" },
      }))
      : found.kind === "account"
      ? found.devices.map((d) => ({
        tag: "device",
        attrs: { id: String(d.deviceNumber), "key-index": "1" },
      }))
      : [];
    const content: BinaryNode[] = [{
      tag: "devices",
      attrs: {},
      content: [{ tag: "device-list", attrs: {}, content: deviceList }],
    }];
    // Accounts get no LID here: it would make the client refresh sessions with their phones,
    // which the fake does not simulate.
    // A user asked by LID has no other LID to tell.
    if (found.kind === "contact" && !jid.endsWith("@lid")) {
      content.push({ tag: "lid", attrs: { val: found.contact.lid } });
    }
    return { tag: "user", attrs: { jid }, content };
  }

  keyBundles(node: BinaryNode): BinaryNode {
    const users = getBinaryNodeChildren(getBinaryNodeChild(node, "key"), "user");
    const answers = users.map((user): BinaryNode => {
      const jid = user.attrs.jid;
      const found = this.resolve(jid);
      if (found.kind === "contact") return found.contact.bundle(jid);
      const device = found.kind === "account" && found.devices.length === 1
        ? found.devices[0]
        : undefined;
      const bundle = device && companionBundle(device, jid);
      return bundle ?? {
        tag: "user",
        attrs: { jid },
        content: [{ tag: "error", attrs: { code: "404", text: "item-not-found" } }],
      };
    });
    return {
      tag: "iq",
      attrs: { type: "result" },
      content: [{ tag: "list", attrs: {}, content: answers }],
    };
  }
}

/** A `<to>` copy of a message addressed to a simulated contact's device, ready to decrypt. */
export interface ContactCopy {
  contact: SimulatedContact;
  device: number;
  type: "pkmsg" | "msg";
  ciphertext: Uint8Array;
}

/** The contact device a `<to>` copy is for, with its ciphertext; `null` if it is no contact's. */
export function contactCopy(directory: Directory, copy: BinaryNode): ContactCopy | null {
  const found = directory.resolve(copy.attrs.jid);
  const enc = getBinaryNodeChild(copy, "enc");
  if (found.kind !== "contact" || !(enc?.content instanceof Uint8Array)) return null;
  return {
    contact: found.contact,
    device: jidDecode(copy.attrs.jid)?.device ?? 0,
    type: enc.attrs.type as "pkmsg" | "msg",
    ciphertext: enc.content,
  };
}

/** A companion's key bundle from what it uploaded; each one-time pre-key is handed out once. */
export function companionBundle(device: FakeDevice, jid: string): BinaryNode | null {
  const upload = device.upload;
  if (!upload) return null;
  const content: BinaryNode[] = [
    { tag: "registration", attrs: {}, content: upload.registration },
    { tag: "type", attrs: {}, content: new Uint8Array([5]) },
    { tag: "identity", attrs: {}, content: upload.identity },
    upload.signedPreKey,
  ];
  const preKey = upload.preKeys.shift();
  if (preKey) {
    content.push(preKey);
    device.preKeyCount = Math.max(0, device.preKeyCount - 1);
  }
  return { tag: "user", attrs: { jid }, content };
}

function childTags(node: BinaryNode | undefined): string[] {
  return Array.isArray(node?.content) ? node.content.map((child) => child.tag) : [];
}
