/**
 * Prompt freeing of the buffers that streaming a media file leaves behind. Each chunk read from a
 * request, and each output of node:crypto, is a new ArrayBuffer whose bytes live outside V8's
 * heap; V8 frees dead ones only once tens of megabytes of them piled up in a thread (its
 * external-memory limit is 64 MiB), so a large file raised RSS by about 60 MiB in each thread it
 * went through, however small its chunks were, where a 1 MiB file cost almost nothing. A young-generation collection after every
 * megabyte a thread streams frees them (under a millisecond each). It needs V8's `gc`
 * (`--v8-flags=--expose-gc`, which the launcher passes); without it this does nothing.
 */

/** How many streamed bytes a thread lets pass between two collections. */
const COLLECT_EVERY_BYTES = 1024 * 1024;

type GcFunction = (options?: { type: "minor" | "major" }) => void;
const gc = (globalThis as { gc?: GcFunction }).gc;

let uncollected = 0;

/** Whether this thread can collect garbage when asked (`--v8-flags=--expose-gc`). */
export function canCollectChunkGarbage(): boolean {
  return typeof gc === "function";
}

/**
 * Counts `bytes` this thread just streamed (and no longer holds); past `COLLECT_EVERY_BYTES`
 * since the last one, runs a young-generation collection. Concurrent streams share the count.
 *
 * @example
 * ```ts
 * for await (const chunk of source) { await write(cipher.update(chunk)); streamedChunk(chunk.length); }
 * ```
 */
export function streamedChunk(bytes: number): void {
  if (!gc) return;
  uncollected += bytes;
  if (uncollected < COLLECT_EVERY_BYTES) return;
  uncollected = 0;
  gc({ type: "minor" });
}
