/**
 * A fake WhatsApp server on loopback that the real, unmodified Baileys client talks to: Noise
 * handshake with its own test PKI, QR registration, a simulated phone that pairs devices, login
 * of linked devices, and the disconnects the real server causes (removal, replacement, drops).
 * See docs/testing.md.
 */
import {
  type BinaryNode,
  getBinaryNodeChild,
  getBinaryNodeChildren,
  hmacSign,
  proto,
  WA_CERT_DETAILS,
} from "@whiskeysockets/baileys";
import { Curve } from "@whiskeysockets/baileys";
import type { Hono } from "hono";
import { type FakeCertificates, makeCertificates } from "./certificates.ts";
import { controlApi } from "./control_api.ts";
import { type ConnectionContext, FakeConnection } from "./connection.ts";
import { SimulatedContact } from "./contacts.ts";
import { DeviceRegistry, type FakeDevice } from "./devices.ts";
import { companionBundle, contactCopy, Directory } from "./directory.ts";
import { concat } from "./noise.ts";
import { sleepUntilWoken } from "../waiters.ts";
import { LinkCodePairings } from "./link_code.ts";
import { type AckHooks, MessageFaults, retryReceipt } from "./message_faults.ts";
import { editOf, revokeOf, voteOf } from "./contact_actions.ts";
import { historySyncMessages } from "./history_sync.ts";
import { FakeMediaServer } from "./media_server.ts";
import {
  mediaMessage,
  mediaOf,
  type MediaToSend,
  openMedia,
  type ReceivedMedia,
} from "./contact_media.ts";
import { type FakeGroupsControl, type FakeProfilesControl, SocialFeatures } from "./groups.ts";

export type { FakeDevice } from "./devices.ts";
export type { MediaKind, MediaToSend, ReceivedMedia } from "./contact_media.ts";
export { trustFakeMedia } from "./media_server.ts";
export type { FakeGroupsControl, FakeProfilesControl, GroupView } from "./groups.ts";

/** A device as `devices()` reports it. */
export interface DeviceView {
  phoneNumber: string;
  jid: string;
  lid: string;
  removed: boolean;
  online: boolean;
}

/**
 * A device logged in while another connection of it was still open: two live sockets with one
 * set of credentials, as two gateway nodes running one session would have.
 */
export interface ConnectionOverlap {
  jid: string;
  at: Date;
  /** How long the older connection had been silent (a frozen client's stale socket is). */
  previousSilentMs: number;
}

export interface FakeWhatsApp {
  /** For Baileys' `waWebSocketUrl` (the gateway's `WA_WS_URL`). */
  wsUrl: string;
  /** Base URL of the HTTP control API (see `control_api.ts`). */
  controlUrl: string;
  /** The test root key to trust in place of WhatsApp's (`WA_CERT_DETAILS.PUBLIC_KEY`). */
  rootPublicKey: Uint8Array;
  /** The same, base64 (the gateway's `WA_TEST_ROOT_PUBKEY`). */
  rootPublicKeyBase64: string;
  /** The simulated phone scans `qr`: pairs the device, then forces the 515 restart. */
  pairWithQr(qr: string, phone: { phoneNumber: string; pushName?: string }): Promise<DeviceView>;
  /**
   * The phone of `phone.phoneNumber` enters the code a companion requested for that number
   * (Baileys' `requestPairingCode`); rejects when the code is wrong or nobody asked.
   */
  pairWithCode(
    code: string,
    phone: { phoneNumber: string; pushName?: string },
  ): Promise<DeviceView>;
  devices(): DeviceView[];
  /** Every login that found another open connection of the same device (it then gets 440). */
  connectionOverlaps(): ConnectionOverlap[];
  /** The phone removes the device(s): online clients get 401, later logins are refused. */
  removeDevice(phoneOrJid: string): Promise<void>;
  /** Another client took over: online clients get 440 (conflict, replaced). */
  replaceConnection(phoneOrJid: string): Promise<void>;
  /** The connection drops without a word (the client reconnects). */
  dropConnection(phoneOrJid: string): Promise<void>;
  /**
   * Adds a simulated contact that companions can write to and hear from; with `devices` > 1 its
   * phone has linked devices too, each of which decrypts what companions send it.
   */
  addContact(contact: { phoneNumber: string; pushName?: string; devices?: number }): void;
  /** Groups: create them, change members, members who send (see `groups.ts`). */
  groups: FakeGroupsControl;
  /** Users' pictures, about texts, business profiles, block lists and presence. */
  profiles: FakeProfilesControl;
  /** A contact sends a text to every online device of an account; resolves with its id. */
  deliverText(text: { from: string; to: string; text: string }): Promise<{ id: string }>;
  /** A contact sends any message content to every online device of an account. */
  deliverMessage(
    message: { from: string; to: string; message: proto.IMessage },
  ): Promise<{ id: string }>;
  /** The contact edits a text it sent (`id`) to `text`. */
  editMessage(edit: { from: string; to: string; id: string; text: string }): Promise<void>;
  /** The contact deletes a message it sent (`id`) for everyone. */
  deleteMessage(deletion: { from: string; to: string; id: string }): Promise<void>;
  /** The contact votes `options` on a poll the account sent it (`pollId`, already received). */
  votePoll(vote: { from: string; to: string; pollId: string; options: string[] }): Promise<void>;
  /** The contact shows typing, recording or stops, to every online device of `to`. */
  sendChatState(
    state: { from: string; to: string; state: "composing" | "recording" | "paused" },
  ): void;
  /** Read receipts and chat states companions sent, oldest first. */
  fromCompanions(): CompanionStanza[];
  /**
   * A contact uploads a file and sends it as a media message to every online device of an
   * account; resolves with the message id and where the encrypted file is.
   */
  deliverMedia(
    file: { from: string; to: string } & MediaToSend,
  ): Promise<{ id: string; directPath: string }>;
  /** The media server (HTTPS, its own test CA): uploads, and files to corrupt or expire. */
  media: FakeMediaServer;
  /** Texts companions sent to simulated contacts, decrypted. */
  receivedMessages(filter?: { from?: string; to?: string }): ReceivedMessage[];
  /** Resolves with the first received text matching `predicate`, waiting for it if needed. */
  waitForReceived(
    predicate: (message: ReceivedMessage) => boolean,
    timeoutMs?: number,
  ): Promise<ReceivedMessage>;
  /** The contact's phone fails to decrypt the next `count` messages (default 1) sent to it. */
  failNextDecrypt(contact: string, count?: number): void;
  /** Ids of messages a contact could not decrypt and has not asked again for. */
  undecryptedMessages(): string[];
  /** The contact asks for message `id` again with a retry receipt, to every online device. */
  sendRetryReceipt(id: string): Promise<void>;
  /** Hooks around each message ack (replacing earlier ones): to hold an ack, or act on it. */
  setAckHooks(hooks: AckHooks): void;
  /** Phones keep the app state key they share with new companions until released. */
  holdAppStateKeyShares(): void;
  /** Sends the app state keys held back so far, and stops holding them. */
  releaseAppStateKeyShares(): Promise<void>;
  /** A contact's phone reports messages delivered or read, to every online device of `to`. */
  sendReceipt(
    receipt: { from: string; to: string; ids: string[]; type: "delivery" | "read" },
  ): Promise<void>;
  close(): Promise<void>;
}

/** A text a companion sent to a simulated contact, as the contact decrypted it. */
export interface ReceivedMessage {
  id: string;
  /** The sender's phone number. */
  from: string;
  /** The contact's phone number. */
  to: string;
  /** The group it was sent to, for a group message. */
  group?: string;
  /** Which of the contact's devices decrypted it (0, the phone, unless it has linked devices). */
  device?: number;
  /** The text, or a media message's caption (empty when it has none). */
  text: string;
  /** The whole content, decrypted. */
  message: proto.IMessage;
  /** The message it replies to, when it quotes one. */
  quotedMessageId?: string;
  /** The JIDs it mentions. */
  mentions?: string[];
  /** The file of a media message, downloaded, checked and decrypted. */
  media?: ReceivedMedia;
  /** Why the file of a media message could not be opened. */
  mediaError?: string;
  at: Date;
}

/** A receipt or chat state a companion sent: `kind` is the receipt type or the chat state. */
export interface CompanionStanza {
  tag: "receipt" | "chatstate";
  /** `read`, `read-self`, … for receipts; `composing`, `recording`, `paused` for chat states. */
  kind: string;
  /** The contact it was for (a JID). */
  to: string;
  /** Message ids, for receipts. */
  ids: string[];
}

/** Makes Baileys (this process's module instance) trust a fake server's root key. */
export function trustFakeRoot(rootPublicKey: Uint8Array): void {
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(rootPublicKey);
}

const SERVER = "@s.whatsapp.net";
const unixNow = () => String(Math.floor(Date.now() / 1000));
const ACCOUNT_SIGNATURE_PREFIX = new Uint8Array([6, 0]);
const DEVICE_SIGNATURE_PREFIX = new Uint8Array([6, 1]);
const equal = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((byte, i) => byte === b[i]);

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

export interface FakeWhatsAppOptions {
  /** Delay added to every frame the server sends (a network's one-way latency); default 0. */
  latencyMs?: number;
}

/** Starts a fake server on 127.0.0.1 at a random port. */
export async function startFakeWhatsApp(options: FakeWhatsAppOptions = {}): Promise<FakeWhatsApp> {
  const media = await FakeMediaServer.start();
  const certificates: FakeCertificates = makeCertificates();
  const registry = new DeviceRegistry();
  const refs = new Map<string, FakeConnection>();
  const connections = new Set<FakeConnection>();
  const onlineByJid = new Map<string, FakeConnection>();
  const overlaps: ConnectionOverlap[] = [];
  const directory = new Directory(registry);
  const received: ReceivedMessage[] = [];
  const receivedWaiters = new Set<() => void>();
  const linkCodes = new LinkCodePairings();
  const faults = new MessageFaults();
  const companionStanzas: CompanionStanza[] = [];
  /** Each account's phone as a Signal peer of its companions (it sends them history). */
  const phones = new Map<string, SimulatedContact>();
  const historySent = new Set<string>();
  const recordReceived = (message: ReceivedMessage) => {
    received.push(message);
    for (const wake of receivedWaiters) wake();
  };

  const context: ConnectionContext = {
    certificates,
    latencyMs: options.latencyMs ?? 0,
    issueRef(connection) {
      const ref = `2@${base64(crypto.getRandomValues(new Uint8Array(24)))}`;
      refs.set(ref, connection);
      return ref;
    },
    authorizeLogin(phoneNumber, deviceNumber, noiseKey) {
      const device = registry.find(phoneNumber, deviceNumber);
      if (!device || device.removed || !equal(device.noiseKey, noiseKey)) return null;
      return device;
    },
    online(connection, device) {
      const previous = onlineByJid.get(device.jid);
      onlineByJid.set(device.jid, connection);
      if (previous && previous !== connection && previous.isOpen) {
        overlaps.push({
          jid: device.jid,
          at: new Date(),
          previousSilentMs: Math.round(performance.now() - previous.lastInboundAt),
        });
      }
      if (previous && previous !== connection) {
        previous.streamError(null, { tag: "conflict", attrs: { type: "replaced" } });
      }
      if (!historySent.has(device.jid)) {
        historySent.add(device.jid);
        sendHistory(connection, device).catch((error) => {
          console.error("fake whatsapp: history sync not sent", error);
        });
      }
    },
    loggedOut(device) {
      device.removed = true;
    },
    usync: (node) => directory.usync(node),
    keyBundles: (node) => directory.keyBundles(node),
    linkCode: (connection, node) => linkCodes.onRequest(connection, node),
    mediaConn: () => ({
      tag: "iq",
      attrs: { type: "result" },
      content: [{
        tag: "media_conn",
        attrs: { auth: media.auth, ttl: "3600" },
        content: [{
          tag: "host",
          attrs: { hostname: media.host, maxContentLengthBytes: String(2 ** 31) },
        }],
      }],
    }),
    answer: (connection, node) => social.answer(connection.device!, node),
    presence: (connection, node) => social.presence(connection, node),
    async message(connection, node) {
      const sender = connection.device!;
      if (node.attrs.to?.endsWith("@g.us")) {
        // The server acks what it took at once; the members' phones decrypt it afterwards.
        const error = social.messaging.refusal(sender, node);
        connection.send({
          tag: "ack",
          attrs: {
            class: "message",
            id: node.attrs.id,
            from: node.attrs.to,
            t: unixNow(),
            ...(error ? { error } : {}),
          },
        });
        if (!error) await social.messaging.fromCompanion(sender, node);
        return;
      }
      const copies = getBinaryNodeChildren(getBinaryNodeChild(node, "participants"), "to");
      for (const copy of copies) {
        const target = contactCopy(directory, copy);
        if (!target) continue;
        const { contact, device } = target;
        const addressed = {
          id: node.attrs.id,
          contact: contact.phoneNumber,
          from: sender.phoneNumber,
          t: node.attrs.t ?? unixNow(),
        };
        if (faults.failsToDecrypt(addressed)) continue;
        const message = await contact.decrypt(sender.lid, target.type, target.ciphertext, device);
        // A phone shows a message once, however often it is sent (a retry, a re-send).
        const seen = received.some((m) =>
          m.id === node.attrs.id && m.to === addressed.contact && (m.device ?? 0) === device
        );
        if (seen) continue;
        recordReceived({
          id: node.attrs.id,
          from: sender.phoneNumber,
          to: contact.phoneNumber,
          ...(device ? { device } : {}),
          ...await readContent(message, media),
          message,
          at: new Date(),
        });
      }
      await faults.ackHooks.before?.(node.attrs.id);
      connection.send({
        tag: "ack",
        attrs: { class: "message", id: node.attrs.id, from: node.attrs.to, t: unixNow() },
      });
      faults.ackHooks.after?.(node.attrs.id);
    },
    observe(_connection, node) {
      const children = Array.isArray(node.content) ? node.content : [];
      const ids = [
        node.attrs.id,
        ...getBinaryNodeChildren(children[0], "item").map((i) => i.attrs.id),
      ]
        .filter(Boolean);
      const kind = node.tag === "receipt"
        ? node.attrs.type ?? "delivery"
        : children[0]?.attrs.media === "audio"
        ? "recording"
        : children[0]?.tag ?? "";
      companionStanzas.push({
        tag: node.tag as CompanionStanza["tag"],
        kind,
        to: node.attrs.to,
        ids,
      });
    },
    closed(connection) {
      connections.delete(connection);
      for (const [ref, owner] of refs) if (owner === connection) refs.delete(ref);
      if (connection.device && onlineByJid.get(connection.device.jid) === connection) {
        onlineByJid.delete(connection.device.jid);
      }
    },
  };

  const social: SocialFeatures = new SocialFeatures({
    directory,
    onlineDevicesOf: (phone) => onlineDevicesOf(phone),
    delivered: async ({ id, group, from, to, device, message }) => {
      const seen = received.some((m) =>
        m.id === id && m.to === to && m.group === group && m.device === device
      );
      if (seen) return;
      recordReceived({
        id,
        from,
        to,
        group,
        device,
        ...await readContent(message, media),
        message,
        at: new Date(),
      });
    },
    newMessageId: () => newMessageId(),
    get pictureBaseUrl() {
      return `http://127.0.0.1:${server.addr.port}/control/pictures`;
    },
  });

  // The control API needs the finished `fake`, which needs the server's port: set below.
  const handlers: { control?: Hono } = {};
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return handlers.control?.fetch(request) ?? new Response("not ready", { status: 503 });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    connections.add(new FakeConnection(socket, context));
    return response;
  });

  const view = (device: FakeDevice): DeviceView => ({
    phoneNumber: device.phoneNumber,
    jid: device.jid,
    lid: device.lid,
    removed: device.removed,
    online: onlineByJid.get(device.jid)?.isOpen ?? false,
  });

  const onlineOf = (phoneOrJid: string) =>
    registry.match(phoneOrJid).map((d) => onlineByJid.get(d.jid)).filter((c) => c !== undefined);

  async function pairWithQr(
    qr: string,
    phone: { phoneNumber: string; pushName?: string },
  ): Promise<DeviceView> {
    const [ref, noiseKeyB64, identityKeyB64, advSecretB64] = qr.slice(qr.indexOf("#") + 1).split(
      ",",
    );
    const connection = refs.get(ref);
    if (!connection?.registration) throw new Error("QR ref unknown or expired");
    const registration = connection.registration;
    const identityKey = fromBase64(identityKeyB64);
    if (!equal(fromBase64(noiseKeyB64), registration.noiseKey)) {
      throw new Error("QR noise key does not match the connection");
    }
    if (!equal(identityKey, registration.identityKey)) {
      throw new Error("QR identity key does not match the registration");
    }
    return await completePairing(connection, identityKey, fromBase64(advSecretB64), phone);
  }

  /** The phone of `phone.phoneNumber` enters the pairing code a companion asked for. */
  async function pairWithCode(
    code: string,
    phone: { phoneNumber: string; pushName?: string },
  ): Promise<DeviceView> {
    const { connection, identityKey, advSecret } = await linkCodes.enterCode(
      code,
      phone.phoneNumber,
    );
    return await completePairing(connection, identityKey, advSecret, phone);
  }

  /**
   * `pair-success` for a registering connection whose identity key and ADV secret the phone
   * learned (from the QR code, or by the pairing-code exchange); resolves once the client signed.
   */
  async function completePairing(
    connection: FakeConnection,
    identityKey: Uint8Array,
    advSecret: Uint8Array,
    phone: { phoneNumber: string; pushName?: string },
  ): Promise<DeviceView> {
    const registration = connection.registration!;
    const account = Curve.generateKeyPair();
    const keyIndex = 1 + Math.floor(Math.random() * 1000);
    const details = proto.ADVDeviceIdentity.encode({
      rawId: Math.floor(Math.random() * 2 ** 31),
      timestamp: Math.floor(Date.now() / 1000),
      keyIndex,
    }).finish();
    const accountSignature = Curve.sign(
      Buffer.from(account.private),
      Buffer.from(concat(ACCOUNT_SIGNATURE_PREFIX, details, identityKey)),
    );
    const signed = proto.ADVSignedDeviceIdentity.encode({
      details,
      accountSignatureKey: account.public,
      accountSignature,
    }).finish();
    const container = proto.ADVSignedDeviceIdentityHMAC.encode({
      details: signed,
      hmac: hmacSign(Buffer.from(signed), Buffer.from(advSecret)),
    }).finish();

    const device = registry.add({
      phoneNumber: phone.phoneNumber,
      noiseKey: registration.noiseKey,
      identityKey,
      registrationId: registration.registrationId,
      pushName: phone.pushName ?? null,
    });
    device.removed = true; // not usable until the client signed
    const pairSuccess: BinaryNode[] = [
      { tag: "device-identity", attrs: {}, content: container },
      { tag: "platform", attrs: { name: "android" } },
      { tag: "device", attrs: { jid: device.jid, lid: device.lid } },
      ...(phone.pushName ? [{ tag: "biz", attrs: { name: phone.pushName } }] : []),
    ];
    const reply = await connection.request({
      tag: "iq",
      attrs: { from: SERVER, type: "set", xmlns: "md", t: String(Math.floor(Date.now() / 1000)) },
      content: [{ tag: "pair-success", attrs: {}, content: pairSuccess }],
    });
    const sign = getBinaryNodeChild(reply, "pair-device-sign");
    const identity = getBinaryNodeChild(sign, "device-identity");
    if (!identity || !(identity.content instanceof Uint8Array)) {
      throw new Error(`client did not sign the pairing: ${JSON.stringify(reply.attrs)}`);
    }
    if (identity.attrs["key-index"] !== String(keyIndex)) throw new Error("wrong key index");
    const answered = proto.ADVSignedDeviceIdentity.decode(identity.content);
    const signatureOk = Curve.verify(
      Buffer.from(identityKey),
      Buffer.from(concat(DEVICE_SIGNATURE_PREFIX, details, identityKey, account.public)),
      Buffer.from(answered.deviceSignature ?? new Uint8Array()),
    );
    if (!signatureOk) throw new Error("device signature invalid");
    device.removed = false;
    // The real server makes the client start over with its new credentials.
    connection.streamError("515");
    return view(device);
  }

  /**
   * The phone's history sync, once per linked device, when the device has uploaded its
   * pre-keys (the phone's first message to it starts a Signal session from them).
   */
  /** App state key shares held back (`holdAppStateKeyShares`), or `null` while they are sent. */
  let heldKeyShares: (() => Promise<void>)[] | null = null;

  async function sendHistory(connection: FakeConnection, device: FakeDevice): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!device.upload?.preKeys.length && Date.now() < deadline && connection.isOpen) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (!device.upload || !connection.isOpen) return;
    let phone = phones.get(device.phoneNumber);
    if (!phone) {
      phone = new SimulatedContact(device.phoneNumber, device.pushName, device.lid.split(":")[0]);
      phones.set(device.phoneNumber, phone);
    }
    const history = historySyncMessages([...directory.contacts.values()]);
    const fromPhone = (message: proto.IMessage) =>
      sendEncrypted(phone, device, connection, message, {
        from: `${device.phoneNumber}@s.whatsapp.net`,
        type: "text",
        category: "peer",
        id: newMessageId(),
      });
    for (const message of history) await fromPhone(message);
    // The phone shares its app state key too: the companion syncs settings with it.
    const share = () => fromPhone(social.appState.keyShare(device.phoneNumber));
    if (heldKeyShares) heldKeyShares.push(share);
    else await share();
  }

  /** Encrypts `message` from `sender` to one companion and sends it with `attrs`. */
  async function sendEncrypted(
    sender: SimulatedContact,
    device: FakeDevice,
    connection: FakeConnection,
    message: proto.IMessage,
    attrs: Record<string, string>,
    encAttrs: Record<string, string> = {},
  ): Promise<void> {
    const { type, ciphertext } = await sender.encryptMessage(
      device.lid,
      message,
      () => companionBundle(device, device.lid),
    );
    connection.send({
      tag: "message",
      attrs: { ...attrs, t: unixNow() },
      content: [{ tag: "enc", attrs: { v: "2", type, ...encAttrs }, content: ciphertext }],
    });
  }

  const newMessageId = () =>
    `3EB0${crypto.randomUUID().replaceAll("-", "").slice(0, 16).toUpperCase()}`;

  const onlineDevicesOf = (phoneNumber: string) =>
    registry.match(phoneNumber).filter((d) => !d.removed && onlineByJid.get(d.jid)?.isOpen)
      .map((d) => ({ device: d, connection: onlineByJid.get(d.jid)! }));

  const contactOf = (phoneNumber: string) => {
    const contact = directory.contacts.get(phoneNumber);
    if (!contact) throw new Error(`no simulated contact ${phoneNumber}`);
    return contact;
  };

  const fake: FakeWhatsApp = {
    wsUrl: `ws://127.0.0.1:${server.addr.port}/ws/chat`,
    controlUrl: `http://127.0.0.1:${server.addr.port}/control`,
    rootPublicKey: certificates.rootPublicKey,
    rootPublicKeyBase64: base64(certificates.rootPublicKey),
    pairWithQr,
    pairWithCode,
    devices: () => registry.all().map(view),
    connectionOverlaps: () => [...overlaps],
    removeDevice(phoneOrJid) {
      for (const device of registry.match(phoneOrJid)) device.removed = true;
      for (const connection of onlineOf(phoneOrJid)) {
        connection.streamError("401", { tag: "conflict", attrs: { type: "device_removed" } });
      }
      return Promise.resolve();
    },
    replaceConnection(phoneOrJid) {
      for (const connection of onlineOf(phoneOrJid)) {
        connection.streamError(null, { tag: "conflict", attrs: { type: "replaced" } });
      }
      return Promise.resolve();
    },
    dropConnection(phoneOrJid) {
      for (const connection of onlineOf(phoneOrJid)) connection.close();
      return Promise.resolve();
    },
    addContact({ phoneNumber, pushName, devices }) {
      if (directory.contacts.has(phoneNumber)) return;
      directory.contacts.set(
        phoneNumber,
        new SimulatedContact(phoneNumber, pushName ?? null, registry.nextLidUser(), devices),
      );
    },
    groups: social.groupsControl(),
    profiles: social.profilesControl(),
    deliverText({ from, to, text }) {
      return fake.deliverMessage({ from, to, message: { conversation: text } });
    },
    async deliverMessage({ from, to, message }) {
      const contact = contactOf(from);
      const file = mediaOf(message);
      const id = newMessageId();
      const targets = onlineDevicesOf(to);
      if (targets.length === 0) throw new Error(`no online device of ${to}`);
      for (const { device, connection } of targets) {
        await sendEncrypted(contact, device, connection, message, {
          from: contact.jid,
          type: message.pollUpdateMessage ? "poll" : file ? "media" : "text",
          id,
          notify: contact.pushName ?? "",
          sender_lid: contact.lid,
        }, file ? { mediatype: file.kind === "voice" ? "ptt" : file.kind } : {});
      }
      return { id };
    },
    async editMessage({ from, to, id, text }) {
      await fake.deliverMessage({ from, to, message: editOf(`${to}@s.whatsapp.net`, id, text) });
    },
    async deleteMessage({ from, to, id }) {
      await fake.deliverMessage({ from, to, message: revokeOf(`${to}@s.whatsapp.net`, id) });
    },
    async votePoll({ from, to, pollId, options }) {
      const poll = received.find((m) => m.id === pollId && m.to === from);
      if (!poll) throw new Error(`${from} has not received poll ${pollId}`);
      const vote = voteOf(
        poll.message,
        pollId,
        `${to}@s.whatsapp.net`,
        contactOf(from).jid,
        options,
      );
      await fake.deliverMessage({ from, to, message: vote });
    },
    sendChatState({ from, to, state }) {
      const contact = contactOf(from);
      for (const { connection } of onlineDevicesOf(to)) {
        connection.send({
          tag: "chatstate",
          attrs: { from: contact.jid },
          content: [{
            tag: state === "recording" ? "composing" : state,
            attrs: state === "recording" ? { media: "audio" } : {},
          }],
        });
      }
    },
    fromCompanions: () => [...companionStanzas],
    async deliverMedia({ from, to, ...file }) {
      const message = await mediaMessage(file, media);
      const { id } = await fake.deliverMessage({ from, to, message });
      return { id, directPath: mediaOf(message)!.fields.directPath! };
    },
    media,
    receivedMessages(filter = {}) {
      return received.filter((m) =>
        (!filter.from || m.from === filter.from) && (!filter.to || m.to === filter.to)
      );
    },
    async waitForReceived(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (true) {
        const found = received.find(predicate);
        if (found) return found;
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error("no matching message received in time");
        await sleepUntilWoken(receivedWaiters, remaining);
      }
    },
    failNextDecrypt(contact, count) {
      faults.failNextDecrypt(contact, count);
    },
    undecryptedMessages: () => faults.undecrypted.map((message) => message.id),
    sendRetryReceipt(id) {
      const message = faults.take(id);
      const contact = contactOf(message.contact);
      for (const { connection } of onlineDevicesOf(message.from)) {
        connection.send(retryReceipt(message, contact.jid, contact.registrationId));
      }
      return Promise.resolve();
    },
    setAckHooks(hooks) {
      faults.ackHooks = hooks;
    },
    sendReceipt({ from, to, ids, type }) {
      const contact = contactOf(from);
      const [first, ...rest] = ids;
      for (const { connection } of onlineDevicesOf(to)) {
        connection.send({
          tag: "receipt",
          attrs: {
            from: contact.jid,
            id: first,
            t: unixNow(),
            ...(type === "read" ? { type: "read" } : {}),
          },
          content: rest.length
            ? [{
              tag: "list",
              attrs: {},
              content: rest.map((id) => ({ tag: "item", attrs: { id } })),
            }]
            : undefined,
        });
      }
      return Promise.resolve();
    },
    holdAppStateKeyShares() {
      heldKeyShares ??= [];
    },
    async releaseAppStateKeyShares() {
      const held = heldKeyShares ?? [];
      heldKeyShares = null;
      for (const share of held) await share();
    },
    async close() {
      for (const connection of [...connections]) connection.close();
      await server.shutdown();
      await media.close();
    },
  };
  handlers.control = controlApi(fake);
  return fake;
}

/**
 * What a contact read in a message a companion sent: its text or caption, what it quotes and
 * mentions, and its file, opened from the media server.
 */
async function readContent(
  message: proto.IMessage,
  media: FakeMediaServer,
): Promise<
  Pick<ReceivedMessage, "text" | "quotedMessageId" | "mentions" | "media" | "mediaError">
> {
  const found = mediaOf(message);
  const context = (found?.fields ?? message.extendedTextMessage)?.contextInfo;
  const text = message.conversation ?? message.extendedTextMessage?.text ??
    found?.fields.caption ?? "";
  const about = {
    text,
    ...(context?.stanzaId ? { quotedMessageId: context.stanzaId } : {}),
    ...(context?.mentionedJid?.length ? { mentions: context.mentionedJid } : {}),
  };
  if (!found) return about;
  try {
    return { ...about, media: await openMedia(found.kind, found.fields, media) };
  } catch (error) {
    return { ...about, mediaError: (error as Error).message };
  }
}
