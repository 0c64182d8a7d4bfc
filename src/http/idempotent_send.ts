/**
 * A send answered once per `Idempotency-Key`: shared by the message route and the media route,
 * so that a file retried with the same key is sent once, like a text.
 */
import type { IdempotentSends } from "../domain/idempotent_sends.ts";
import type { SentMessage } from "../domain/message.ts";
import type { SessionManager } from "../domain/session_manager.ts";

/** A send's answer: what WhatsApp took, and the type that was asked for. */
export type SendAnswer = SentMessage & { type: string };

/**
 * Runs `send` (given the message id to use), once per key and request when `key` is set: a retry
 * with the same key and request answers the first response; a send cut short after WhatsApp took
 * it is answered from the message store instead of sent again.
 *
 * @example
 * ```ts
 * const answer = await sendOnce({ manager, idempotentSends }, { sessionId, jid, type, key, request }, send);
 * ```
 */
export async function sendOnce(
  deps: { manager: SessionManager; idempotentSends: IdempotentSends },
  what: { sessionId: string; jid: string; type: string; key?: string; request: unknown },
  send: (messageId?: string) => Promise<SentMessage>,
): Promise<SendAnswer> {
  const answer = async (messageId?: string) => ({ ...await send(messageId), type: what.type });
  if (!what.key) return await answer();
  const session = await deps.manager.get(what.sessionId);
  const { response } = await deps.idempotentSends.send(
    session.id,
    what.key,
    what.request,
    async (messageId, resumed) => {
      const stored = resumed ? await deps.manager.storedMessage(session.id, messageId) : undefined;
      if (stored?.fromMe && stored.status && stored.status !== "pending") {
        const sent: SentMessage = {
          id: stored.id,
          to: what.jid,
          status: stored.status,
          timestamp: new Date(stored.timestamp).toISOString(),
        };
        return { status: 201, body: { ...sent, type: what.type } };
      }
      return { status: 201, body: await answer(messageId) };
    },
  );
  // The body is what `send` answered for this key (here or before a restart).
  return response.body as unknown as SendAnswer;
}
