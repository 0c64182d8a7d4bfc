import { z } from "@hono/zod-openapi";
import { normalizeRecipient } from "../domain/message.ts";

/** A message's recipient: a phone number or a user JID (see `normalizeRecipient`). */
export const recipientField = z
  .string()
  .max(64)
  .refine(
    (value) => normalizeRecipient(value) !== null,
    "must be a phone number (6-15 digits, optional leading +) or a user JID " +
      "(<digits>@s.whatsapp.net)",
  )
  .openapi({ example: "+15550009999" });
