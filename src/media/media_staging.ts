/**
 * Where files to send wait while they are sent: `<dataDir>/.media/tmp/<uuid>/`, one folder per
 * request, the file in it encrypted with AES-256-CTR under a key that lives only in memory. So the
 * file is never whole in memory, a file left behind by a crash is unreadable, and the start of the
 * next run removes it.
 */
import { createCipheriv, createHash } from "node:crypto";
import { join } from "node:path";
import { MediaTooLargeError } from "../domain/errors.ts";
import type { StagedMedia } from "../domain/media.ts";
import { MEDIA_DIR_NAME } from "../persistence/data_dir_layout.ts";
import { streamedChunk } from "./chunk_garbage.ts";

/** How much of a file's start is kept in memory for content sniffing. */
export const HEAD_BYTES = 256 * 1024;

/** A file written to the staging area: a `StagedMedia` before its type is checked. */
export type StagedFile = Omit<StagedMedia, "mimetype" | "width" | "height"> & {
  /** The first `HEAD_BYTES` of the plaintext (all of it for a smaller file). */
  head: Uint8Array;
};

/** The staging folder of a data directory. */
export class MediaStaging {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, MEDIA_DIR_NAME, "tmp");
  }

  /** Removes what an earlier run left (call before serving). */
  async sweep(): Promise<number> {
    let removed = 0;
    try {
      for await (const entry of Deno.readDir(this.root)) {
        await Deno.remove(join(this.root, entry.name), { recursive: true }).catch(() => {});
        removed++;
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return removed;
  }

  /**
   * Writes `source` into a new staged file. Past `maxBytes` it stops reading, removes what it
   * wrote and throws `MediaTooLargeError`; on any other failure it removes it too.
   */
  async stage(source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<StagedFile> {
    await Deno.mkdir(this.root, { recursive: true, mode: 0o700 });
    const dir = join(this.root, crypto.randomUUID());
    await Deno.mkdir(dir, { mode: 0o700 });
    const path = join(dir, "file");
    const key = crypto.getRandomValues(new Uint8Array(32));
    const iv = crypto.getRandomValues(new Uint8Array(16));
    const cipher = createCipheriv("aes-256-ctr", key, iv);
    const hash = createHash("sha256");
    const head = new Uint8Array(HEAD_BYTES);
    let size = 0;
    try {
      using file = await Deno.open(path, { createNew: true, write: true, mode: 0o600 });
      for await (const chunk of source) {
        if (size + chunk.length > maxBytes) throw new MediaTooLargeError(maxBytes);
        if (size < HEAD_BYTES) head.set(chunk.subarray(0, HEAD_BYTES - size), size);
        size += chunk.length;
        hash.update(chunk);
        await writeAll(file, cipher.update(chunk));
        streamedChunk(chunk.length);
      }
      await writeAll(file, cipher.final());
    } catch (error) {
      await this.remove(dir);
      throw error;
    }
    return {
      dir,
      path,
      key,
      iv,
      size,
      sha256: new Uint8Array(hash.digest()),
      head: head.slice(0, Math.min(size, HEAD_BYTES)),
    };
  }

  /** Removes a staged file's folder (and anything the sender wrote beside it). */
  async remove(dir: string): Promise<void> {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Writes all of `bytes` (a file write may take only part of them). */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await file.write(bytes.subarray(written));
  }
}
