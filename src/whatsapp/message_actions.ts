import { normalizeMessageContent, proto } from "@whiskeysockets/baileys";
import { ValidationError } from "../domain/errors.ts";
import type { MessageAction } from "../domain/message_activity.ts";
import type { SessionMessages } from "../domain/message_store.ts";
import type { WASocket } from "./baileys_connection.ts";
import { storedContent } from "./stored_messages.ts";

/**
 * Runs a `MessageAction` on a socket: an edit or a deletion for everyone (Baileys sends the
 * protocol message) is also applied to the message store; read receipts and chat states are
 * only sent.
 */
export async function performAction(
  socket: WASocket,
  action: MessageAction,
  messages: SessionMessages | undefined,
): Promise<void> {
  switch (action.kind) {
    case "edit": {
      await socket.sendMessage(action.key.remoteJid, { text: action.text, edit: action.key });
      const stored = await messages?.get(action.key.id);
      if (!stored) return;
      await messages!.patch([{
        id: stored.id,
        content: proto.Message.encode(withText(storedContent(stored), action.text)).finish(),
        text: action.text,
        editedAt: Date.now(),
      }]);
      return;
    }
    case "delete":
      await socket.sendMessage(action.key.remoteJid, { delete: action.key });
      await messages?.patch([{
        id: action.key.id,
        content: new Uint8Array(0),
        text: null,
        deletedAt: Date.now(),
      }]);
      return;
    case "read":
      await socket.readMessages(action.keys);
      return;
    case "presence":
      await socket.sendPresenceUpdate(
        action.state === "typing" ? "composing" : action.state,
        action.chat,
      );
  }
}

/** A text message's content with its text replaced (its other fields, such as the secret, kept). */
function withText(content: proto.IMessage, text: string): proto.IMessage {
  const inner = normalizeMessageContent(content) ?? content;
  if (inner.extendedTextMessage) {
    return { ...content, extendedTextMessage: { ...inner.extendedTextMessage, text } };
  }
  if (typeof inner.conversation === "string") return { ...content, conversation: text };
  throw new ValidationError("Only text messages can be edited");
}
