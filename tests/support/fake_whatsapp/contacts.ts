import {
  addTransactionCapability,
  type BinaryNode,
  DEFAULT_CONNECTION_CONFIG,
  initAuthCreds,
  jidDecode,
  parseAndInjectE2ESessions,
  proto,
  type SignalDataSet,
  type SignalDataTypeMap,
  type SignalKeyStore,
  unpadRandomMax16,
  writeRandomPadMax16,
  xmppPreKey,
  xmppSignedPreKey,
} from "@whiskeysockets/baileys";
import { Curve } from "@whiskeysockets/baileys";
import pino from "pino";

const silent = pino({ level: "silent" });
const ONE_TIME_PRE_KEYS = 50;

/** An in-memory Signal key store, all a simulated phone needs. */
function memoryKeyStore(): SignalKeyStore {
  const data = new Map<string, unknown>();
  return {
    get: (type, ids) => {
      const result: Record<string, unknown> = {};
      for (const id of ids) {
        const value = data.get(`${type}:${id}`);
        if (value !== undefined) result[id] = value;
      }
      return Promise.resolve(result as { [id: string]: SignalDataTypeMap[typeof type] });
    },
    set: (changes: SignalDataSet) => {
      for (const [type, values] of Object.entries(changes)) {
        for (const [id, value] of Object.entries(values ?? {})) {
          if (value) data.set(`${type}:${id}`, value);
          else data.delete(`${type}:${id}`);
        }
      }
      return Promise.resolve();
    },
  };
}

/** One Signal identity of a simulated phone or of one of its linked devices. */
class SignalDevice {
  readonly creds = initAuthCreds();
  readonly repository;
  readonly #preKeys = new Map<number, { public: Uint8Array; private: Uint8Array }>();
  #signalQueue: Promise<unknown> = Promise.resolve();

  constructor() {
    const store = memoryKeyStore();
    const keys = addTransactionCapability(store, silent, {
      maxCommitRetries: 1,
      delayBetweenTriesMs: 1,
    });
    const preKeys: Record<string, { public: Uint8Array; private: Uint8Array }> = {};
    for (let id = 1; id <= ONE_TIME_PRE_KEYS; id++) {
      const pair = Curve.generateKeyPair();
      this.#preKeys.set(id, pair);
      preKeys[String(id)] = pair;
    }
    void store.set({ "pre-key": preKeys });
    this.repository = DEFAULT_CONNECTION_CONFIG.makeSignalRepository(
      { creds: this.creds, keys },
      silent,
      () => Promise.resolve([]),
    );
  }

  bundle(jid: string): BinaryNode {
    const content: BinaryNode[] = [
      { tag: "registration", attrs: {}, content: encodeU32(this.creds.registrationId) },
      { tag: "type", attrs: {}, content: new Uint8Array([5]) },
      { tag: "identity", attrs: {}, content: this.creds.signedIdentityKey.public },
      xmppSignedPreKey(this.creds.signedPreKey),
    ];
    // Each one-time pre-key is handed out once, as the real server does.
    const next = this.#preKeys.entries().next();
    if (!next.done) {
      const [id, pair] = next.value;
      this.#preKeys.delete(id);
      content.push(xmppPreKey(pair, id));
    }
    return { tag: "user", attrs: { jid }, content };
  }

  /**
   * Runs Signal operations one at a time, in arrival order, as a phone does: interleaved, two
   * messages of one session would both advance the same ratchet state.
   */
  serially<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#signalQueue.then(operation);
    this.#signalQueue = result.catch(() => {});
    return result;
  }
}

/**
 * A simulated contact: a phone with its own Signal identity that companions can write to (the
 * fake decrypts and records what they sent) and that can write to companions. It may have
 * linked devices of its own (`deviceCount` > 1), each with its own identity, that receive what
 * companions send it (device 0 is the phone, the one that writes).
 */
export class SimulatedContact {
  readonly phoneNumber: string;
  readonly pushName: string | null;
  /** The user-level LID, e.g. `200000000000002@lid`. */
  readonly lid: string;
  readonly #devices: SignalDevice[];

  constructor(phoneNumber: string, pushName: string | null, lidUser: string, deviceCount = 1) {
    this.phoneNumber = phoneNumber;
    this.pushName = pushName;
    this.lid = `${lidUser}@lid`;
    this.#devices = Array.from({ length: Math.max(1, deviceCount) }, () => new SignalDevice());
  }

  get jid(): string {
    return `${this.phoneNumber}@s.whatsapp.net`;
  }

  /** The device numbers of the phone and its linked devices (0 first). */
  get deviceNumbers(): number[] {
    return this.#devices.map((_, index) => index);
  }

  /** The phone's Signal registration id (sent in its retry receipts). */
  get registrationId(): number {
    return this.#devices[0].creds.registrationId;
  }

  /** The key bundle a companion fetches to start a session with one of this contact's devices. */
  bundle(jid: string): BinaryNode {
    return this.#device(jidDecode(jid)?.device ?? 0).bundle(jid);
  }

  /** Decrypts a copy of a message a companion (`senderJid`) sent to this contact's `device`. */
  decrypt(senderJid: string, type: "pkmsg" | "msg", ciphertext: Uint8Array, device = 0) {
    const signal = this.#device(device);
    return signal.serially(async () => {
      const padded = await signal.repository.decryptMessage({
        jid: senderJid,
        type,
        ciphertext: Buffer.from(ciphertext),
      });
      return proto.Message.decode(unpadRandomMax16(padded));
    });
  }

  /** Takes in a sender key a companion (`authorJid`) distributed for a group, on `device`. */
  processSenderKey(
    authorJid: string,
    distribution: proto.Message.ISenderKeyDistributionMessage,
    device = 0,
  ): Promise<void> {
    const signal = this.#device(device);
    return signal.serially(() =>
      signal.repository.processSenderKeyDistributionMessage({ authorJid, item: distribution })
    );
  }

  /** Decrypts a group message (`skmsg`) `authorJid` sent to `group`, on `device`. */
  decryptGroup(group: string, authorJid: string, ciphertext: Uint8Array, device = 0) {
    const signal = this.#device(device);
    return signal.serially(async () => {
      const padded = await signal.repository.decryptGroupMessage({
        group,
        authorJid,
        msg: Buffer.from(ciphertext),
      });
      return proto.Message.decode(unpadRandomMax16(padded));
    });
  }

  /**
   * Encrypts `message` for `group` with the phone's sender key (as `authorJid`); also answers
   * the distribution message that gives the key to a device that lacks it.
   */
  encryptGroup(group: string, authorJid: string, message: proto.IMessage) {
    const signal = this.#devices[0];
    return signal.serially(() =>
      signal.repository.encryptGroupMessage({
        group,
        meId: authorJid,
        data: writeRandomPadMax16(proto.Message.encode(message).finish()),
      })
    );
  }

  /**
   * Encrypts a text for one companion device; starts a Signal session from the device's uploaded
   * keys (`bundle`) when there is none yet.
   */
  encryptText(deviceJid: string, text: string, bundle: () => BinaryNode | null) {
    return this.encryptMessage(deviceJid, { conversation: text }, bundle);
  }

  /** Encrypts any message content for one companion device, as `encryptText` does a text. */
  encryptMessage(deviceJid: string, message: proto.IMessage, bundle: () => BinaryNode | null) {
    const signal = this.#devices[0];
    return signal.serially(() => this.#encrypt(signal, deviceJid, message, bundle));
  }

  #device(device: number): SignalDevice {
    const signal = this.#devices[device];
    if (!signal) throw new Error(`${this.phoneNumber} has no device ${device}`);
    return signal;
  }

  async #encrypt(
    signal: SignalDevice,
    deviceJid: string,
    message: proto.IMessage,
    bundle: () => BinaryNode | null,
  ) {
    const repository = signal.repository;
    const existing = await repository.validateSession(deviceJid);
    if (!existing.exists) {
      const user = bundle();
      if (!user) throw new Error(`no keys uploaded for ${deviceJid}`);
      const list: BinaryNode = {
        tag: "iq",
        attrs: {},
        content: [{ tag: "list", attrs: {}, content: [user] }],
      };
      await parseAndInjectE2ESessions(list, repository);
    }
    const plaintext = writeRandomPadMax16(proto.Message.encode(message).finish());
    return await repository.encryptMessage({ jid: deviceJid, data: plaintext });
  }
}

function encodeU32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value);
  return bytes;
}
