import {
  type BinaryNode,
  decodeBinaryNode,
  encodeBinaryNode,
  getBinaryNodeChild,
  proto,
} from "@whiskeysockets/baileys";
import type { FakeCertificates, KeyPair } from "./certificates.ts";
import type { FakeDevice } from "./devices.ts";
import { Curve } from "@whiskeysockets/baileys";
import {
  encodeFrame,
  FrameReader,
  NoiseHandshake,
  type TransportCipher,
  WA_HEADER,
} from "./noise.ts";
import { answerIq } from "./iq_answers.ts";

/** What a connection needs from the server it belongs to. */
export interface ConnectionContext {
  certificates: FakeCertificates;
  /** Delay added to every frame the server sends, to model a network's latency. */
  latencyMs: number;
  /** A fresh QR ref, remembered as pointing at `connection`. */
  issueRef(connection: FakeConnection): string;
  /** The device logging in, if it exists, is not removed, and `noiseKey` matches. */
  authorizeLogin(
    phoneNumber: string,
    deviceNumber: number,
    noiseKey: Uint8Array,
  ): FakeDevice | null;
  /** Marks `connection` as the device's online connection (replacing any other). */
  online(connection: FakeConnection, device: FakeDevice): void;
  /** The client logged itself out. */
  loggedOut(device: FakeDevice): void;
  closed(connection: FakeConnection): void;
  /** Answers a usync query (devices and LIDs of users). */
  usync(node: BinaryNode): BinaryNode;
  /** Answers a key bundle fetch (`encrypt` get `key`). */
  keyBundles(node: BinaryNode): BinaryNode;
  /** A message stanza the logged-in device sent. */
  message(connection: FakeConnection, node: BinaryNode): Promise<void>;
  /** A receipt or chat state the logged-in device sent (recorded for tests). */
  observe(connection: FakeConnection, node: BinaryNode): void;
  /** Answers `media_conn` (`w:m`): where and with which token to upload media. */
  mediaConn(): BinaryNode;
  /** Answers a pairing-code step (`link_code_companion_reg`) of a client that is registering. */
  linkCode(connection: FakeConnection, node: BinaryNode): BinaryNode;
  /** Answers an iq of the server's other features (groups, profiles); `null` when none knows it. */
  answer(connection: FakeConnection, node: BinaryNode): BinaryNode | null;
  /** A presence stanza the logged-in device sent (a subscription, its own availability). */
  presence(connection: FakeConnection, node: BinaryNode): void;
}

/** What the client told us when it registered, needed to pair it. */
export interface Registration {
  noiseKey: Uint8Array;
  identityKey: Uint8Array;
  registrationId: number;
}

const SERVER = "@s.whatsapp.net";
const unix = () => String(Math.floor(Date.now() / 1000));

/**
 * One client's WebSocket: the Noise handshake, then binary nodes. Frames are handled strictly in
 * arrival order (GCM counters), but a reply the client owes us is never awaited inside that order.
 */
export class FakeConnection {
  readonly #socket: WebSocket;
  readonly #context: ConnectionContext;
  readonly #reader = new FrameReader();
  readonly #handshake = new NoiseHandshake();
  #ephemeral?: KeyPair;
  #transport?: TransportCipher;
  #queue: Promise<void> = Promise.resolve();
  #outgoing: Promise<void> = Promise.resolve();
  #serverIqs = 0;
  readonly #awaitingReply = new Map<string, (node: BinaryNode) => void>();
  #closed = false;

  /** Set once the client presented its static key. */
  clientStatic?: Uint8Array;
  /** Set when the client connected without credentials, asking for a QR. */
  registration?: Registration;
  /** Set once a linked device logged in. */
  device?: FakeDevice;
  /** When the client last sent anything (a frozen client goes silent: no frames, no pings). */
  lastInboundAt = performance.now();

  constructor(socket: WebSocket, context: ConnectionContext) {
    this.#socket = socket;
    this.#context = context;
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => {
      const bytes = new Uint8Array(event.data as ArrayBuffer);
      this.lastInboundAt = performance.now();
      this.#queue = this.#queue.then(() => this.#receive(bytes)).catch((error) => {
        console.error("fake whatsapp: dropping connection after error", error);
        this.close();
      });
    };
    socket.onclose = () => this.#onClosed();
    socket.onerror = () => {};
  }

  get isOpen(): boolean {
    return !this.#closed;
  }

  /** Sends a node to the client. */
  send(node: BinaryNode): void {
    if (this.#closed || !this.#transport) return;
    // Encrypted now, in send order (GCM counters); only the delivery is delayed.
    this.#deliver(encodeFrame(this.#transport.encrypt(encodeBinaryNode(node))));
  }

  #deliver(frame: Uint8Array): void {
    const send = () => {
      if (this.#socket.readyState === WebSocket.OPEN) this.#socket.send(frame);
    };
    if (this.#context.latencyMs <= 0) return send();
    // Every frame waits the same time, so they still arrive in order.
    const due = performance.now() + this.#context.latencyMs;
    this.#outgoing = this.#outgoing.then(async () => {
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      send();
    });
  }

  /** Sends an iq and resolves with the client's reply (matched by id). */
  request(node: BinaryNode): Promise<BinaryNode> {
    const id = `srv.${++this.#serverIqs}`;
    const reply = new Promise<BinaryNode>((resolve) => this.#awaitingReply.set(id, resolve));
    this.send({ ...node, attrs: { ...node.attrs, id } });
    return reply;
  }

  /** Sends `<stream:error>` with `code` and/or a child, then closes, as the real server does. */
  streamError(code: string | null, child?: BinaryNode): void {
    this.send({
      tag: "stream:error",
      attrs: code ? { code } : {},
      content: child ? [child] : undefined,
    });
    this.close();
  }

  /** Closes the WebSocket with no stanza (the client sees connectionClosed/Lost). */
  close(): void {
    if (this.#closed) return;
    this.#onClosed();
    // After the frames already on their way (latency), like a real close.
    this.#outgoing = this.#outgoing.then(() => {
      try {
        this.#socket.close();
      } catch {
        // already closing
      }
    });
  }

  #onClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#context.closed(this);
  }

  async #receive(bytes: Uint8Array): Promise<void> {
    for (const frame of this.#reader.push(bytes)) {
      if (this.#closed) return;
      if (!this.#transport) {
        this.#onHandshakeFrame(frame);
        continue;
      }
      const node = await decodeBinaryNode(Buffer.from(this.#transport.decrypt(frame)));
      this.#onNode(node);
    }
  }

  #onHandshakeFrame(frame: Uint8Array): void {
    const message = proto.HandshakeMessage.decode(frame);
    const hs = this.#handshake;
    if (!this.#ephemeral) {
      const clientEphemeral = message.clientHello?.ephemeral;
      if (!clientEphemeral) throw new Error("expected ClientHello");
      hs.authenticate(WA_HEADER);
      hs.authenticate(clientEphemeral);
      const ephemeral = Curve.generateKeyPair();
      this.#ephemeral = ephemeral;
      hs.authenticate(ephemeral.public);
      hs.mixDh(ephemeral, clientEphemeral);
      const encryptedStatic = hs.encrypt(this.#context.certificates.serverStatic.public);
      hs.mixDh(this.#context.certificates.serverStatic, clientEphemeral);
      const payload = hs.encrypt(this.#context.certificates.certChain);
      const hello = proto.HandshakeMessage.encode({
        serverHello: { ephemeral: ephemeral.public, static: encryptedStatic, payload },
      }).finish();
      this.#deliver(encodeFrame(hello));
      return;
    }
    const finish = message.clientFinish;
    if (!finish?.static || !finish.payload) throw new Error("expected ClientFinish");
    const clientStatic = hs.decrypt(finish.static);
    hs.mixDh(this.#ephemeral, clientStatic);
    const payload = proto.ClientPayload.decode(hs.decrypt(finish.payload));
    this.clientStatic = clientStatic;
    this.#transport = hs.split();
    if (payload.username !== null && payload.username !== undefined) {
      this.#login(String(payload.username), Number(payload.device ?? 0));
    } else {
      this.#register(payload);
    }
  }

  #register(payload: proto.ClientPayload): void {
    const pairing = payload.devicePairingData;
    if (!pairing?.eIdent || !pairing.eRegid) throw new Error("registration without pairing data");
    this.registration = {
      noiseKey: this.clientStatic!,
      identityKey: pairing.eIdent,
      registrationId: new DataView(pairing.eRegid.buffer, pairing.eRegid.byteOffset).getUint32(0),
    };
    const refs = Array.from({ length: 6 }, () => ({
      tag: "ref",
      attrs: {},
      content: new TextEncoder().encode(this.#context.issueRef(this)),
    }));
    this.request({
      tag: "iq",
      attrs: { from: SERVER, type: "set", xmlns: "md" },
      content: [{ tag: "pair-device", attrs: {}, content: refs }],
    });
  }

  #login(phoneNumber: string, deviceNumber: number): void {
    const device = this.#context.authorizeLogin(phoneNumber, deviceNumber, this.clientStatic!);
    if (!device) {
      this.send({ tag: "failure", attrs: { reason: "401", location: "fake" } });
      this.close();
      return;
    }
    this.device = device;
    this.#context.online(this, device);
    const now = unix();
    this.send({
      tag: "success",
      attrs: {
        t: now,
        props: "1",
        abprops: "1",
        location: "fake",
        lid: device.lid,
        creation: now,
        display_name: "",
      },
    });
  }

  #onNode(node: BinaryNode): void {
    if (node.tag === "message" && this.device) {
      // Not awaited: decrypting must not hold up the frames behind it.
      this.#context.message(this, node).catch((error) => {
        console.error("fake whatsapp: message not handled", error);
      });
      return;
    }
    if ((node.tag === "receipt" || node.tag === "chatstate") && this.device) {
      this.#context.observe(this, node);
      return;
    }
    if (node.tag === "presence" && this.device) {
      this.#context.presence(this, node);
      return;
    }
    if (node.tag !== "iq") return; // acks, ib: nothing to answer
    const { type, id } = node.attrs;
    if (type === "result" || type === "error") {
      const resolve = this.#awaitingReply.get(id);
      this.#awaitingReply.delete(id);
      resolve?.(node);
      return;
    }
    const remove = getBinaryNodeChild(node, "remove-companion-device");
    if (remove && this.device) {
      this.#context.loggedOut(this.device);
      this.send({ tag: "iq", attrs: { from: SERVER, type: "result", id } });
      this.close();
      return;
    }
    const answer = getBinaryNodeChild(node, "link_code_companion_reg") && this.registration
      ? this.#context.linkCode(this, node)
      : node.attrs.xmlns === "usync"
      ? this.#context.usync(node)
      : node.attrs.xmlns === "encrypt" && getBinaryNodeChild(node, "key")
      ? this.#context.keyBundles(node)
      : node.attrs.xmlns === "w:m" && getBinaryNodeChild(node, "media_conn")
      ? this.#context.mediaConn()
      : (this.device && this.#context.answer(this, node)) || answerIq(node, this.device);
    this.send({ ...answer, attrs: { ...answer.attrs, from: SERVER, id } });
    if (node.attrs.xmlns === "passive") {
      // The offline backlog is empty: lets Baileys flush its event buffer at once.
      this.send({
        tag: "ib",
        attrs: { from: SERVER },
        content: [{ tag: "offline", attrs: { count: "0" } }],
      });
    }
  }
}
