/**
 * The phone's side of app-state sync, as far as the gateway needs it: the phone shares an app
 * state key with each new companion (`APP_STATE_SYNC_KEY_SHARE`, sent with the history sync),
 * the server answers `w:sync:app:state` (collections at the version asked, nothing newer, since no
 * other device writes) and takes the patches a companion uploads, reading the settings it cares
 * about (the account's push name) with the key it shared.
 */
import {
  type BinaryNode,
  decodeSyncdMutations,
  getBinaryNodeChild,
  getBinaryNodeChildren,
  newLTHashState,
  proto,
} from "@whiskeysockets/baileys";

const iqResult = (content?: BinaryNode[]): BinaryNode => ({
  tag: "iq",
  attrs: { type: "result" },
  content,
});

/** App state keys, collection versions and synced settings of one fake server's accounts. */
export class FakeAppState {
  readonly #keys = new Map<string, { keyId: Uint8Array; keyData: Uint8Array }>();
  readonly #versions = new Map<string, number>();
  /** The push name each account last set through app state. */
  readonly pushNames = new Map<string, string>();

  /** The key-share message the phone of `phone` sends a new companion. */
  keyShare(phone: string): proto.IMessage {
    const key = this.#keyOf(phone);
    return {
      protocolMessage: {
        type: proto.Message.ProtocolMessage.Type.APP_STATE_SYNC_KEY_SHARE,
        appStateSyncKeyShare: {
          keys: [{
            keyId: { keyId: key.keyId },
            keyData: {
              keyData: key.keyData,
              fingerprint: { rawId: 1, currentIndex: 0, deviceIndexes: [0] },
              timestamp: Date.now(),
            },
          }],
        },
      },
    };
  }

  /** The answer to a `w:sync:app:state` iq of `phone`'s companion. */
  answer(phone: string, node: BinaryNode): BinaryNode {
    const collections = getBinaryNodeChildren(getBinaryNodeChild(node, "sync"), "collection");
    const answered: BinaryNode[] = [];
    for (const collection of collections) {
      const name = collection.attrs.name;
      const patch = getBinaryNodeChild(collection, "patch");
      const asked = Number(collection.attrs.version ?? 0);
      const id = `${phone}|${name}`;
      if (patch?.content instanceof Uint8Array) {
        this.#versions.set(id, asked + 1);
        this.#read(phone, proto.SyncdPatch.decode(patch.content)).catch((error) => {
          console.error("fake whatsapp: app state patch not read", error);
        });
      }
      answered.push({
        tag: "collection",
        attrs: { name, version: String(Math.max(asked, this.#versions.get(id) ?? 0)) },
      });
    }
    return iqResult([{ tag: "sync", attrs: {}, content: answered }]);
  }

  /** Takes in the settings a patch sets (the push name). */
  async #read(phone: string, patch: proto.SyncdPatch): Promise<void> {
    const key = this.#keyOf(phone);
    await decodeSyncdMutations(
      patch.mutations ?? [],
      newLTHashState(),
      () => Promise.resolve(proto.Message.AppStateSyncKeyData.fromObject({ keyData: key.keyData })),
      ({ syncAction }) => {
        const name = syncAction.value?.pushNameSetting?.name;
        if (name) this.pushNames.set(phone, name);
      },
      false,
    );
  }

  #keyOf(phone: string) {
    let key = this.#keys.get(phone);
    if (!key) {
      key = {
        keyId: crypto.getRandomValues(new Uint8Array(6)),
        keyData: crypto.getRandomValues(new Uint8Array(32)),
      };
      this.#keys.set(phone, key);
    }
    return key;
  }
}
