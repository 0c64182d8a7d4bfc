/**
 * Linking with a pairing code (Baileys' `requestPairingCode`), as the phone and the server do it:
 * the companion announces itself with its ephemeral key wrapped under the code (`companion_hello`);
 * when the user types the code on the phone, the phone answers with its own wrapped ephemeral key
 * and identity (`primary_hello` notification); the companion sends back its identity in a key
 * bundle encrypted with the shared secret (`companion_finish`). Both sides then hold the same
 * ADV secret, which authenticates `pair-success` exactly as the QR code's secret does.
 */
import {
  aesDecryptCTR,
  aesDecryptGCM,
  aesEncryptCTR,
  type BinaryNode,
  Curve,
  derivePairingCodeKey,
  getBinaryNodeChild,
  getBinaryNodeChildBuffer,
  hkdf,
  jidDecode,
} from "@whiskeysockets/baileys";
import { Buffer } from "node:buffer";
import type { FakeConnection } from "./connection.ts";

/** What `pair-success` needs once a code has been entered. */
export interface CodePairing {
  connection: FakeConnection;
  /** The companion's signed identity key, as it proved it. */
  identityKey: Uint8Array;
  /** The ADV secret both sides derived (the QR code carries it otherwise). */
  advSecret: Uint8Array;
}

const SERVER = "@s.whatsapp.net";
const FINISH_TIMEOUT_MS = 10_000;
const HELLO_WAIT_MS = 5_000;

const result = (): BinaryNode => ({ tag: "iq", attrs: { type: "result" } });
const badRequest = (text: string): BinaryNode => ({
  tag: "iq",
  attrs: { type: "error" },
  content: [{ tag: "error", attrs: { code: "400", text } }],
});

const equal = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((byte, i) => byte === b[i]);

/** Companions waiting for their code to be typed, and phones waiting for `companion_finish`. */
export class LinkCodePairings {
  readonly #hellos = new Map<string, { connection: FakeConnection; wrapped: Uint8Array }>();
  readonly #finishes = new Map<string, (registration: BinaryNode) => void>();
  #notifications = 0;

  /** Answers a `link_code_companion_reg` iq from a client that is not logged in. */
  onRequest(connection: FakeConnection, iq: BinaryNode): BinaryNode {
    const registration = getBinaryNodeChild(iq, "link_code_companion_reg")!;
    const stage = registration.attrs.stage;
    if (stage === "companion_hello") {
      const phoneNumber = jidDecode(registration.attrs.jid)?.user;
      const wrapped = getBinaryNodeChildBuffer(
        registration,
        "link_code_pairing_wrapped_companion_ephemeral_pub",
      );
      if (!connection.registration || !phoneNumber || wrapped?.length !== 80) {
        return badRequest("bad-request");
      }
      this.#hellos.set(phoneNumber, { connection, wrapped: new Uint8Array(wrapped) });
      return result();
    }
    if (stage === "companion_finish") {
      const ref = getBinaryNodeChildBuffer(registration, "link_code_pairing_ref");
      const finish = ref && this.#finishes.get(new TextDecoder().decode(ref));
      if (!finish) return badRequest("unknown-ref");
      finish(registration);
      return result();
    }
    return badRequest("bad-request");
  }

  /**
   * The user types `code` on the phone of `phoneNumber`: runs the phone's side of the exchange
   * with the companion that asked for a code for that number. Throws when no companion is
   * waiting, or when the code is wrong (the companion's key bundle then does not decrypt).
   */
  async enterCode(code: string, phoneNumber: string): Promise<CodePairing> {
    // The companion's hello may still be on its way when its code is typed.
    const deadline = Date.now() + HELLO_WAIT_MS;
    while (!this.#hellos.has(phoneNumber) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const hello = this.#hellos.get(phoneNumber);
    if (!hello?.connection.isOpen) {
      throw new Error(`no companion waits for a code for ${phoneNumber}`);
    }
    this.#hellos.delete(phoneNumber);
    const { connection, wrapped } = hello;
    const companionEphemeral = aesDecryptCTR(
      Buffer.from(wrapped.subarray(48, 80)),
      await derivePairingCodeKey(code, Buffer.from(wrapped.subarray(0, 32))),
      Buffer.from(wrapped.subarray(32, 48)),
    );

    const primaryEphemeral = Curve.generateKeyPair();
    const primaryIdentity = Curve.generateKeyPair();
    const salt = crypto.getRandomValues(new Uint8Array(32));
    const iv = crypto.getRandomValues(new Uint8Array(16));
    const wrappedPrimary = Buffer.concat([
      salt,
      iv,
      aesEncryptCTR(
        Buffer.from(primaryEphemeral.public),
        await derivePairingCodeKey(code, Buffer.from(salt)),
        Buffer.from(iv),
      ),
    ]);
    const ref = crypto.randomUUID();
    const finished = new Promise<BinaryNode>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#finishes.delete(ref);
        reject(new Error("the companion never finished the code pairing"));
      }, FINISH_TIMEOUT_MS);
      this.#finishes.set(ref, (registration) => {
        clearTimeout(timer);
        this.#finishes.delete(ref);
        resolve(registration);
      });
    });
    connection.send({
      tag: "notification",
      attrs: {
        from: SERVER,
        type: "link_code_companion_reg",
        id: `link.${++this.#notifications}`,
        t: String(Math.floor(Date.now() / 1000)),
      },
      content: [{
        tag: "link_code_companion_reg",
        attrs: { stage: "primary_hello" },
        content: [
          { tag: "link_code_pairing_ref", attrs: {}, content: new TextEncoder().encode(ref) },
          { tag: "primary_identity_pub", attrs: {}, content: primaryIdentity.public },
          {
            tag: "link_code_pairing_wrapped_primary_ephemeral_pub",
            attrs: {},
            content: wrappedPrimary,
          },
        ],
      }],
    });

    const finish = await finished;
    const bundle = getBinaryNodeChildBuffer(finish, "link_code_pairing_wrapped_key_bundle");
    if (!bundle || bundle.length < 44) throw new Error("companion_finish without a key bundle");
    const companionShared = Curve.sharedKey(primaryEphemeral.private, companionEphemeral);
    const bundleKey = hkdf(companionShared, 32, {
      salt: Buffer.from(bundle.subarray(0, 32)),
      info: "link_code_pairing_key_bundle_encryption_key",
    });
    let plain: Uint8Array;
    try {
      plain = aesDecryptGCM(
        Buffer.from(bundle.subarray(44)),
        bundleKey,
        Buffer.from(bundle.subarray(32, 44)),
        Buffer.alloc(0),
      );
    } catch {
      throw new Error("wrong pairing code: the companion's key bundle does not decrypt");
    }
    const identityKey = plain.subarray(0, 32);
    const claimed = getBinaryNodeChildBuffer(finish, "companion_identity_public");
    if (
      !equal(plain.subarray(32, 64), primaryIdentity.public) ||
      !claimed || !equal(identityKey, claimed) ||
      !equal(identityKey, connection.registration?.identityKey ?? new Uint8Array())
    ) {
      throw new Error("the companion's key bundle names other identities");
    }
    const identityShared = Curve.sharedKey(primaryIdentity.private, identityKey);
    const advSecret = hkdf(
      Buffer.concat([companionShared, identityShared, plain.subarray(64, 96)]),
      32,
      { info: "adv_secret" },
    );
    return { connection, identityKey: new Uint8Array(identityKey), advSecret };
  }
}
