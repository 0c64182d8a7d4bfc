/**
 * Contact cards and polls: our message shapes to and from Baileys' content. Beside
 * `message_content.ts`, which maps texts, locations and reactions.
 */
import type { AnyMessageContent, WAMessage } from "@whiskeysockets/baileys";
import type { IncomingMessage, OutgoingMessage } from "../domain/message.ts";
import { pollOptions } from "./poll_votes.ts";

/** Baileys' content of a contact or poll message. */
export function sharedContent(
  message: Extract<OutgoingMessage, { type: "contact" | "poll" }>,
): AnyMessageContent {
  if (message.type === "contact") {
    return {
      contacts: {
        displayName: message.contacts.length === 1 ? message.contacts[0].name : undefined,
        contacts: message.contacts.map((card) => ({ displayName: card.name, vcard: card.vcard })),
      },
    };
  }
  return {
    poll: { name: message.name, values: message.options, selectableCount: message.selectableCount },
  };
}

/** The contact or poll fields of a received message; `null` when it is neither. */
export function fromSharedContent(
  content: NonNullable<WAMessage["message"]>,
): Pick<IncomingMessage, "type" | "contacts" | "poll" | "text"> | null {
  const cards = content.contactsArrayMessage?.contacts ??
    (content.contactMessage ? [content.contactMessage] : null);
  if (cards) {
    return {
      type: "contact",
      contacts: cards.map((card) => ({ name: card.displayName ?? "", vcard: card.vcard ?? "" })),
    };
  }
  const poll = content.pollCreationMessage ?? content.pollCreationMessageV2 ??
    content.pollCreationMessageV3;
  if (poll) {
    return {
      type: "poll",
      text: poll.name ?? "",
      poll: {
        name: poll.name ?? "",
        options: pollOptions(content),
        selectableCount: poll.selectableOptionsCount ?? 0,
      },
    };
  }
  return null;
}
