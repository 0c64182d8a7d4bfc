/**
 * The history sync a phone sends a companion once it is linked: peer messages from the phone
 * (device 0 of the account) carrying `protocolMessage.historySyncNotification` with the history
 * inline (`initialHistBootstrapInlinePayload`, zlib-deflated `proto.HistorySync`), as Baileys'
 * `downloadAndProcessHistorySyncNotification` reads it. Two chunks: INITIAL_BOOTSTRAP (every
 * contact's chat with its PN↔LID mapping and one old message) and PUSH_NAME.
 */
import { deflateSync } from "node:zlib";
import { proto } from "@whiskeysockets/baileys";
import type { SimulatedContact } from "./contacts.ts";

/** How old the message in each chat of the bootstrap history is. */
export const HISTORY_MESSAGE_AGE_MS = 2 * 86_400_000;

/** The id of the old message the bootstrap history holds for `contact`. */
export function historyMessageId(contact: SimulatedContact): string {
  return `HIST${contact.phoneNumber}`;
}

/** The history notifications a phone sends after linking, for its contacts. */
export function historySyncMessages(contacts: readonly SimulatedContact[]): proto.IMessage[] {
  const seconds = Math.floor((Date.now() - HISTORY_MESSAGE_AGE_MS) / 1000);
  const bootstrap: proto.IHistorySync = {
    syncType: proto.HistorySync.HistorySyncType.INITIAL_BOOTSTRAP,
    progress: 100,
    conversations: contacts.map((contact) => ({
      id: contact.jid,
      lidJid: contact.lid,
      name: contact.pushName ?? undefined,
      messages: [{
        message: {
          key: { remoteJid: contact.jid, fromMe: false, id: historyMessageId(contact) },
          message: { conversation: `an old message from ${contact.phoneNumber}` },
          messageTimestamp: seconds,
          pushName: contact.pushName ?? undefined,
        },
      }],
    })),
    phoneNumberToLidMappings: contacts.map((contact) => ({
      pnJid: contact.jid,
      lidJid: contact.lid,
    })),
  };
  const pushNames: proto.IHistorySync = {
    syncType: proto.HistorySync.HistorySyncType.PUSH_NAME,
    pushnames: contacts.filter((c) => c.pushName).map((c) => ({ id: c.jid, pushname: c.pushName })),
  };
  return [bootstrap, pushNames].map((history, chunkOrder) => ({
    protocolMessage: {
      type: proto.Message.ProtocolMessage.Type.HISTORY_SYNC_NOTIFICATION,
      historySyncNotification: {
        syncType: history.syncType,
        chunkOrder,
        progress: 100,
        initialHistBootstrapInlinePayload: deflateSync(proto.HistorySync.encode(history).finish()),
      },
    },
  }));
}
