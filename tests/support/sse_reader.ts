/** One Server-Sent Event. */
export interface SseEvent {
  event: string;
  data: string;
}

/** Reads a `text/event-stream` response and lets a test wait for matching events. */
export class SseReader {
  readonly events: SseEvent[] = [];
  readonly #waiters = new Set<() => void>();
  readonly done: Promise<void>;

  constructor(response: Response) {
    this.done = this.#pump(response.body!);
  }

  async #pump(body: ReadableStream<Uint8Array>): Promise<void> {
    let buffer = "";
    try {
      for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(
            block.split("\n").filter((l) => l && !l.startsWith(":")).map((l) => {
              const colon = l.indexOf(":");
              return [l.slice(0, colon), l.slice(colon + 1).trimStart()];
            }),
          );
          if (fields.data !== undefined) {
            this.events.push({ event: fields.event ?? "message", data: fields.data });
            for (const wake of this.#waiters) wake();
          }
        }
      }
    } catch {
      // the stream was cancelled
    } finally {
      for (const wake of this.#waiters) wake();
    }
  }

  /** Resolves with the first event matching `predicate`, waiting for it if needed. */
  async waitFor(predicate: (event: SseEvent) => boolean, timeoutMs = 10_000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const found = this.events.find(predicate);
      if (found) return found;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no matching event; got ${JSON.stringify(this.events)}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          resolve();
        };
        this.#waiters.add(wake);
        timer = setTimeout(wake, remaining);
      });
      clearTimeout(timer);
    }
  }
}
