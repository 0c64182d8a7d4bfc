import { z } from "@hono/zod-openapi";
import { normalizeRecipient } from "../domain/message.ts";

/** A message's recipient: a phone number, a user JID or a group JID (see `normalizeRecipient`). */
export const recipientField = z
  .string()
  .max(64)
  .refine(
    (value) => normalizeRecipient(value) !== null,
    "must be a phone number (6-15 digits, optional leading +), a user JID " +
      "(<digits>@s.whatsapp.net) or a group JID (<digits>@g.us)",
  )
  .openapi({ example: "+15550009999" });
