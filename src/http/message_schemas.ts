import { z } from "@hono/zod-openapi";
import { MEDIA_KINDS } from "../domain/media.ts";
import { MESSAGE_STATUSES, normalizePhoneNumber } from "../domain/message.ts";
import { recipientField } from "./recipient_field.ts";
import { ContactMessageSchema, PollMessageSchema } from "./shared_content_schemas.ts";

/** The longest text WhatsApp accepts in one message. */
export const MAX_TEXT_LENGTH = 65_536;
/** How many numbers one check-numbers call may ask about. */
export const MAX_NUMBERS_PER_CHECK = 50;

/** WhatsApp message ids are short letters and digits (e.g. `3EB0C431D8A1F3B2`). */
export const messageIdField = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,128}$/, "must be 1-128 letters, digits, '_' or '-'")
  .openapi({ example: "3EB0C431D8A1F3B2A1" });

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

const TextMessageSchema = z
  .object({
    type: z.literal("text"),
    to: recipientField,
    text: z.string().min(1).max(MAX_TEXT_LENGTH),
    quotedMessageId: messageIdField.optional().openapi({
      description: "Sends the text as a reply to this message of the same chat.",
    }),
  })
  .strict()
  .openapi("TextMessage");

const LocationMessageSchema = z
  .object({
    type: z.literal("location"),
    to: recipientField,
    latitude: z.number().min(-90).max(90),
    longitude: z.number().min(-180).max(180),
    name: z.string().max(256).optional(),
    address: z.string().max(1024).optional(),
  })
  .strict()
  .openapi("LocationMessage");

const ReactionMessageSchema = z
  .object({
    type: z.literal("reaction"),
    to: recipientField,
    messageId: messageIdField,
    emoji: z
      .string()
      .max(32)
      .refine(
        (value) => [...graphemes.segment(value)].length <= 1,
        "must be one emoji, or empty to remove the reaction",
      ),
  })
  .strict()
  .openapi("ReactionMessage");

/** `POST /api/sessions/{id}/messages`: one message, by `type`. */
export const SendMessageBodySchema = z
  .discriminatedUnion("type", [
    TextMessageSchema,
    LocationMessageSchema,
    ReactionMessageSchema,
    ContactMessageSchema,
    PollMessageSchema,
  ])
  .openapi("SendMessage");

export const SentMessageSchema = z
  .object({
    id: z.string().openapi({ example: "3EB0C431D8A1F3B2A1" }),
    to: z.string().openapi({ example: "15550009999@s.whatsapp.net" }),
    status: z.enum(MESSAGE_STATUSES).openapi({
      description:
        "`sent` once WhatsApp's server acknowledged it; `pending` if no ack came in time.",
    }),
    timestamp: z.string(),
    type: z.enum(["text", "location", "reaction", "contact", "poll", ...MEDIA_KINDS]),
  })
  .openapi("SentMessage");

export const CheckNumbersBodySchema = z
  .object({
    phoneNumbers: z
      .array(
        z.string().max(32).refine(
          (value) => normalizePhoneNumber(value) !== null,
          "must be a phone number: 6-15 digits, optional leading +",
        ),
      )
      .min(1)
      .max(MAX_NUMBERS_PER_CHECK)
      .openapi({ example: ["+15550009999"] }),
  })
  .strict()
  .openapi("CheckNumbers");

export const NumberChecksSchema = z
  .object({
    results: z.array(z.object({
      phoneNumber: z.string().openapi({ example: "15550009999" }),
      exists: z.boolean(),
      jid: z.string().nullable().openapi({ example: "15550009999@s.whatsapp.net" }),
    })),
  })
  .openapi("NumberChecks");
