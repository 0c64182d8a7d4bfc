/** A minimal Server-Sent Events client over a real `fetch` stream, for tests. */

import { sleepUntilWoken } from "./waiters.ts";

/** One event read from the stream. */
export interface SseMessage {
  event: string;
  id: string;
  // deno-lint-ignore no-explicit-any
  data: any;
}

export interface EventStream {
  response: Response;
  /** Every event read so far. */
  messages: SseMessage[];
  /** Every comment line read so far (without the leading `:`), e.g. ` keep-alive`. */
  comments: string[];
  /** Resolves once the server ended the stream. */
  ended: Promise<void>;
  /** Waits until `predicate` holds for the events read so far. */
  waitFor(
    predicate: (messages: SseMessage[]) => boolean,
    timeoutMs?: number,
  ): Promise<SseMessage[]>;
  /** Waits for a comment matching `pattern`. */
  waitForComment(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Disconnects. */
  close(): Promise<void>;
}

/** Opens `url` and parses its event stream in the background. */
export async function openEventStream(
  url: string,
  headers: Record<string, string>,
): Promise<EventStream> {
  const response = await fetch(url, { headers: { accept: "text/event-stream", ...headers } });
  if (response.status !== 200 || !response.body) {
    throw new Error(`event stream: ${response.status} ${await response.text()}`);
  }
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  const waiters = new Set<() => void>();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const ended = (async () => {
    let buffer = "";
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields: Record<string, string> = {};
          for (const line of frame.split("\n")) {
            if (line.startsWith(":")) comments.push(line.slice(1));
            else {
              const colon = line.indexOf(":");
              const name = line.slice(0, colon);
              const text = line.slice(colon + 1).replace(/^ /, "");
              fields[name] = name in fields ? `${fields[name]}\n${text}` : text;
            }
          }
          if ("data" in fields) {
            messages.push({
              event: fields.event ?? "message",
              id: fields.id ?? "",
              data: JSON.parse(fields.data),
            });
          }
          for (const wake of waiters) wake();
        }
      }
    } catch {
      // cancelled by close()
    } finally {
      for (const wake of waiters) wake();
    }
  })();

  let finished = false;
  ended.then(() => finished = true);
  const waitUntil = async (condition: () => boolean, what: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || finished) {
        throw new Error(`event stream: no ${what}; got ${JSON.stringify({ messages, comments })}`);
      }
      await sleepUntilWoken(waiters, remaining);
    }
  };
  return {
    response,
    messages,
    comments,
    ended,
    async waitFor(predicate, timeoutMs = 10_000) {
      await waitUntil(() => predicate(messages), "matching events", timeoutMs);
      return messages;
    },
    async waitForComment(pattern, timeoutMs = 10_000) {
      await waitUntil(() => comments.some((c) => pattern.test(c)), `comment ${pattern}`, timeoutMs);
    },
    async close() {
      await reader.cancel().catch(() => {});
      await ended;
    },
  };
}
