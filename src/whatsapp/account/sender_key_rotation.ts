import type { WASocket } from "../baileys_connection.ts";

/**
 * Makes the account's next message to `group` use a new sender key, given afresh to every
 * member device: called when someone leaves or is removed, so that a former member cannot read
 * what follows even if the messages reached them (WhatsApp's clients do the same; Baileys alone
 * would keep the key). Removes the account's sender key records for the group, under its phone
 * number and LID identities, and the memory of who has them.
 */
export async function rotateSenderKey(socket: WASocket, group: string): Promise<void> {
  const me = socket.user;
  const identities = [me?.id, me?.lid].filter((jid): jid is string => Boolean(jid));
  const senderKeys: Record<string, null> = {};
  for (const jid of identities) {
    // Baileys names a sender key `<group>::<signal address id>::<device>`.
    const address = socket.signalRepository.jidToSignalProtocolAddress(jid);
    const dot = address.lastIndexOf(".");
    senderKeys[`${group}::${address.slice(0, dot)}::${address.slice(dot + 1)}`] = null;
  }
  await socket.authState.keys.set({
    "sender-key": senderKeys,
    "sender-key-memory": { [group]: null },
  });
}
