/**
 * Downloading a received file from WhatsApp on demand and handing it out decrypted, never a byte
 * of a file that is not the one its message describes. The encrypted file is first written to
 * disk while its SHA-256, MAC, padding and plaintext SHA-256 are checked; only a file that passed
 * is served (decrypted as it streams) and kept in the cache. A cached file is checked against
 * its hash again before each use. Memory stays flat whatever the file's size.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { MediaDownloadError, MediaNotFoundError } from "../domain/errors.ts";
import type { MediaKind } from "../domain/media.ts";
import { KeyedLock } from "../lib/keyed_lock.ts";
import { MEDIA_DIR_NAME } from "../persistence/data_dir_layout.ts";
import { MediaCache } from "./media_cache.ts";
import { writeAll } from "./media_staging.ts";
import { type EncryptedFileDigest, MediaDecryptor } from "./whatsapp_media_crypto.ts";
import { errorMessage } from "../lib/error_message.ts";

/** What a received message says about its file: where it is and how to check and open it. */
export interface MediaReference extends EncryptedFileDigest {
  kind: MediaKind;
  mediaKey: Uint8Array;
  directPath: string;
  mimetype: string;
  fileName?: string;
}

/** A file ready to be sent on: its plaintext as a stream, and its size. */
export interface OpenedMedia {
  body: ReadableStream<Uint8Array>;
  size: number;
}

export interface MediaDownloadsOptions {
  dataDir: string;
  /** WhatsApp's media host (`mmg.whatsapp.net`; the fake's in tests). */
  host: string;
  /** `MEDIA_CACHE_BYTES`; 0 keeps nothing. */
  cacheBytes: number;
  /** How long one download may take (default 5 minutes). */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /**
   * Where a stored message's file is: its content (Baileys' `proto.Message` bytes) decoded by the
   * WhatsApp adapter; `undefined` for a message without a file. It may load that adapter first.
   */
  referenceOf: (
    content: Uint8Array,
  ) => MediaReference | undefined | Promise<MediaReference | undefined>;
}

const CHUNK_BYTES = 256 * 1024;
/** CBC padding (up to a block) and the MAC on top of the plaintext. */
const MAX_OVERHEAD = 16 + 10;

/** Downloads of one data directory. */
export class MediaDownloads {
  readonly #options: MediaDownloadsOptions;
  readonly #cache: MediaCache;
  readonly #tmp: string;
  readonly #locks = new KeyedLock();

  constructor(options: MediaDownloadsOptions) {
    this.#options = options;
    this.#cache = new MediaCache(options.dataDir, options.cacheBytes);
    this.#tmp = join(options.dataDir, MEDIA_DIR_NAME, "tmp");
  }

  /**
   * The file of a stored message (its content as the message store keeps it), with what it is;
   * `MediaNotFoundError` when the message has none, else as `open`.
   */
  async openMessage(
    sessionId: string,
    messageId: string,
    content: Uint8Array,
  ): Promise<OpenedMedia & { ref: MediaReference }> {
    const ref = content.length > 0 ? await this.#options.referenceOf(content) : undefined;
    if (!ref) throw new MediaNotFoundError(`Message '${messageId}' has no file to download`);
    return { ...await this.open(sessionId, messageId, ref), ref };
  }

  /**
   * A message's file, checked and decrypting as it is read. Throws `MediaNotFoundError` when
   * WhatsApp no longer has it, `MediaDownloadError` when it fails or sends other bytes.
   */
  open(sessionId: string, messageId: string, ref: MediaReference): Promise<OpenedMedia> {
    return this.#locks.run(`${sessionId}/${messageId}`, async () => {
      const cached = await this.#cache.lookup(sessionId, messageId);
      if (cached) {
        const file = await openIfIntact(cached, ref.fileEncSha256);
        if (file) return { body: decrypting(file, ref), size: ref.fileLength };
        await this.#cache.evict(sessionId, messageId);
      }
      const dir = join(this.#tmp, crypto.randomUUID());
      await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
      const downloaded = join(dir, "download.enc");
      let file: Deno.FsFile | undefined;
      try {
        const size = await this.#download(ref, downloaded);
        // Opened before the cache takes it: it stays readable however soon the cache drops it.
        file = await Deno.open(downloaded, { read: true });
        const kept = await this.#cache.admit(sessionId, messageId, downloaded, size);
        if (kept) await Deno.remove(dir, { recursive: true });
        return { body: decrypting(file, ref, kept ? undefined : dir), size: ref.fileLength };
      } catch (error) {
        file?.close();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        throw error;
      }
    });
  }

  /** Removes a session's cached files (when the session is deleted). */
  removeSession(sessionId: string): Promise<void> {
    return this.#cache.removeSession(sessionId);
  }

  /** Fetches the encrypted file into `path`, checking it whole; returns its size. */
  async #download(ref: MediaReference, path: string): Promise<number> {
    const url = downloadUrl(this.#options.host, ref.directPath);
    const signal = AbortSignal.timeout(this.#options.timeoutMs ?? 300_000);
    let response: Response;
    try {
      response = await (this.#options.fetch ?? fetch)(url, { signal });
    } catch (error) {
      throw new MediaDownloadError(
        `WhatsApp's media server could not be reached: ${errorMessage(error)}`,
      );
    }
    if (response.status === 404 || response.status === 410) {
      await response.body?.cancel();
      throw new MediaNotFoundError("WhatsApp no longer has this file (expired or deleted)");
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new MediaDownloadError(`WhatsApp's media server answered ${response.status}`);
    }
    const decryptor = new MediaDecryptor(ref.mediaKey, ref.kind);
    let size = 0;
    try {
      using file = await Deno.open(path, { createNew: true, write: true, mode: 0o600 });
      for await (const chunk of response.body) {
        size += chunk.length;
        if (size > ref.fileLength + MAX_OVERHEAD) throw new Error("larger than its message says");
        decryptor.update(chunk);
        await writeAll(file, chunk);
      }
    } catch (error) {
      throw new MediaDownloadError(
        `Downloading the file failed: ${errorMessage(error)}`,
      );
    }
    const { problem } = decryptor.final(ref);
    if (problem) {
      throw new MediaDownloadError(
        `WhatsApp sent a file that does not match its message (${problem})`,
      );
    }
    return size;
  }
}

/**
 * The URL of a direct path on the media host; refuses one that would lead elsewhere (a message
 * is written by whoever sent it).
 *
 * @example
 * ```ts
 * downloadUrl("mmg.whatsapp.net", "/v/t62.7118-24/1_n.enc?ccb=11-4"); // "https://mmg.whatsapp.net/v/…"
 * ```
 */
export function downloadUrl(host: string, directPath: string): string {
  const base = `https://${host}`;
  const url = directPath.startsWith("/") && !directPath.startsWith("//")
    ? new URL(directPath, base)
    : undefined;
  if (!url || url.origin !== base) {
    throw new MediaDownloadError("The message's media path does not lead to WhatsApp's media host");
  }
  return url.href;
}

/** The file, open, if its SHA-256 is still `expected`; `undefined` (closed) if not. */
async function openIfIntact(path: string, expected: Uint8Array): Promise<Deno.FsFile | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return undefined;
  }
  const hash = createHash("sha256");
  const buffer = new Uint8Array(CHUNK_BYTES);
  for (let read = await file.read(buffer); read !== null; read = await file.read(buffer)) {
    hash.update(buffer.subarray(0, read));
  }
  const digest = new Uint8Array(hash.digest());
  if (digest.length !== expected.length || digest.some((byte, i) => byte !== expected[i])) {
    file.close();
    return undefined;
  }
  await file.seek(0, Deno.SeekMode.Start);
  return file;
}

/**
 * The plaintext of a checked file as a stream; the file is closed (and `removeDir` removed) at
 * the end or when the reader stops. Should the file change after its check, the stream errors
 * rather than end as if complete.
 */
function decrypting(
  file: Deno.FsFile,
  ref: MediaReference,
  removeDir?: string,
): ReadableStream<Uint8Array> {
  const decryptor = new MediaDecryptor(ref.mediaKey, ref.kind);
  const buffer = new Uint8Array(CHUNK_BYTES);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    file.close();
    if (removeDir) await Deno.remove(removeDir, { recursive: true }).catch(() => {});
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const read = await file.read(buffer);
        if (read === null) {
          const { plaintext, problem } = decryptor.final(ref);
          await close();
          if (problem) return controller.error(new MediaDownloadError(problem));
          if (plaintext.length) controller.enqueue(plaintext);
          return controller.close();
        }
        const plaintext = decryptor.update(buffer.subarray(0, read));
        if (plaintext.length) controller.enqueue(plaintext);
      } catch (error) {
        await close();
        controller.error(error);
      }
    },
    cancel: close,
  }, { highWaterMark: 0 });
}
