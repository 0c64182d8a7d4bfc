/**
 * Taking in a file to send, whatever form it came in (bytes from a request, or a URL to fetch):
 * staged under the data directory within `MAX_MEDIA_BYTES`, then checked against the kind it is
 * sent as. The HTTP layer reads requests; this knows nothing of HTTP.
 */
import type { MediaKind, StagedMedia } from "../domain/media.ts";
import { fetchMediaUrl } from "./media_url_fetch.ts";
import { MediaStaging, type StagedFile } from "./media_staging.ts";
import { checkMediaType } from "./media_type_rules.ts";

export interface MediaIntakeOptions {
  dataDir: string;
  /** `MAX_MEDIA_BYTES`. */
  maxBytes: number;
  /** `MEDIA_URL_ALLOWED_HOSTS`. */
  urlAllowedHosts: readonly string[];
  urlTimeoutMs: number;
}

/** A staged file and the mimetype its source declared (a request field, a response header). */
export interface IncomingFile {
  file: StagedFile;
  declared?: string;
}

/** Stages files to send and checks them. */
export class MediaIntake {
  readonly maxBytes: number;
  readonly #staging: MediaStaging;
  readonly #options: MediaIntakeOptions;

  constructor(options: MediaIntakeOptions) {
    this.#options = options;
    this.maxBytes = options.maxBytes;
    this.#staging = new MediaStaging(options.dataDir);
  }

  /** Removes files a crashed run left staged. */
  sweep(): Promise<number> {
    return this.#staging.sweep();
  }

  /** Stages bytes as they arrive; `MediaTooLargeError` past `MAX_MEDIA_BYTES`. */
  stage(source: AsyncIterable<Uint8Array>): Promise<StagedFile> {
    return this.#staging.stage(source, this.maxBytes);
  }

  /** Fetches a URL under the SSRF rules and stages its body. */
  async stageUrl(url: string): Promise<IncomingFile> {
    const fetched = await fetchMediaUrl(url, {
      allowedHosts: this.#options.urlAllowedHosts,
      timeoutMs: this.#options.urlTimeoutMs,
      maxBytes: this.maxBytes,
    });
    try {
      const file = await this.stage(fetched.body);
      return { file, ...(fetched.contentType ? { declared: fetched.contentType } : {}) };
    } finally {
      fetched.cancel();
    }
  }

  /**
   * The staged file as media of `kind`, if its content is of a type that kind takes and fits
   * the declared mimetype; throws `UnsupportedMediaError` otherwise (the caller discards it).
   */
  accept(kind: MediaKind, file: StagedFile, declared?: string): StagedMedia {
    const { mimetype, width, height } = checkMediaType(kind, file.head, declared);
    const { head: _head, ...staged } = file;
    return { ...staged, mimetype, ...(width && height ? { width, height } : {}) };
  }

  /** Removes a staged file. */
  discard(file: Pick<StagedFile, "dir">): Promise<void> {
    return this.#staging.remove(file.dir);
  }
}
