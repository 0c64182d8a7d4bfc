import { z } from "@hono/zod-openapi";
import { recipientField } from "./recipient_field.ts";

/** How many cards one contact message may carry, and options one poll may have. */
export const MAX_SHARED_CONTACTS = 20;
export const MAX_POLL_OPTIONS = 12;

export const ContactMessageSchema = z
  .object({
    type: z.literal("contact"),
    to: recipientField,
    contacts: z
      .array(
        z.object({
          name: z.string().min(1).max(256),
          vcard: z
            .string()
            .max(16_384)
            .refine(
              (card) => /^BEGIN:VCARD\r?\n[\s\S]*END:VCARD\s*$/.test(card),
              "must be a vCard (BEGIN:VCARD … END:VCARD)",
            ),
        }).strict(),
      )
      .min(1)
      .max(MAX_SHARED_CONTACTS)
      .openapi({
        example: [{
          name: "Jane Doe",
          vcard: "BEGIN:VCARD\nVERSION:3.0\nFN:Jane Doe\nTEL;type=CELL:+15550007777\nEND:VCARD",
        }],
      }),
  })
  .strict()
  .openapi("ContactMessage");

export const PollMessageSchema = z
  .object({
    type: z.literal("poll"),
    to: recipientField,
    name: z.string().min(1).max(256).openapi({ example: "Pickup or delivery?" }),
    options: z
      .array(z.string().min(1).max(100))
      .min(2)
      .max(MAX_POLL_OPTIONS)
      .refine((options) => new Set(options).size === options.length, "options must differ")
      .openapi({ example: ["Pickup", "Delivery"] }),
    selectableCount: z.number().int().min(0).max(MAX_POLL_OPTIONS).default(1).openapi({
      description: "How many options a voter may pick (0: any number). Default 1.",
    }),
  })
  .strict()
  .refine((poll) => poll.selectableCount <= poll.options.length, {
    message: "must not exceed the number of options",
    path: ["selectableCount"],
  })
  .openapi("PollMessage");
