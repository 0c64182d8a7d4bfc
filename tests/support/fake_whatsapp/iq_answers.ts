import { type BinaryNode, getBinaryNodeChild } from "@whiskeysockets/baileys";
import type { FakeDevice } from "./devices.ts";

const result = (content?: BinaryNode[]): BinaryNode => ({
  tag: "iq",
  attrs: { type: "result" },
  content,
});

const error = (code: string, text: string): BinaryNode => ({
  tag: "iq",
  attrs: { type: "error" },
  content: [{ tag: "error", attrs: { code, text } }],
});

/**
 * The answer to an iq a logged-in client sends (without `id`/`from`, which the caller adds).
 * Anything unknown gets a 501 error: an unanswered iq would stall the client for 60 s.
 */
export function answerIq(node: BinaryNode, device: FakeDevice | undefined): BinaryNode {
  const { xmlns, type } = node.attrs;
  const child = (tag: string) => getBinaryNodeChild(node, tag);
  switch (xmlns) {
    case "encrypt":
      if (type === "get" && child("count")) {
        return result([{ tag: "count", attrs: { value: String(device?.preKeyCount ?? 0) } }]);
      }
      if (type === "set" && child("registration")) {
        const list = getBinaryNodeChild(node, "list");
        const keys = Array.isArray(list?.content) ? list.content : [];
        if (device) {
          device.preKeyCount += keys.length;
          device.upload = {
            registration: child("registration")!.content as Uint8Array,
            identity: child("identity")!.content as Uint8Array,
            signedPreKey: child("skey")!,
            preKeys: [...(device.upload?.preKeys ?? []), ...keys],
          };
        }
        return result();
      }
      if (type === "get" && child("digest")) return result([{ tag: "digest", attrs: {} }]);
      break;
    case "passive":
    case "w:p":
    case "w:stats":
      return result();
    case "abt":
      return result([{ tag: "props", attrs: { protocol: "1", hash: "fake" } }]);
    case "blocklist":
      return result([{ tag: "list", attrs: {} }]);
    case "privacy":
      if (type === "set") return result();
      return result([{
        tag: "privacy",
        attrs: {},
        content: ["last", "online", "profile", "status", "readreceipts", "groupadd"].map((
          name,
        ) => ({ tag: "category", attrs: { name, value: "all" } })),
      }]);
    case "w:profile:picture":
      return error("404", "item-not-found");
    case "w:g2":
      return result([{ tag: "groups", attrs: {} }]);
  }
  return error("501", "feature-not-implemented");
}
