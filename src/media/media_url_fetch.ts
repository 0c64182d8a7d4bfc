/**
 * Fetching a file a caller named by URL, without letting the URL reach inside the network (SSRF):
 * only `http`/`https`; every address the host resolves to must be public (`address_rules.ts`)
 * unless the host is in `MEDIA_URL_ALLOWED_HOSTS`; the connection goes to the addresses that were
 * checked (the check is the DNS lookup itself, so a second answer cannot differ); each redirect is
 * checked again; one deadline covers redirects and body; the size limit applies as it streams.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import type { LookupAddress } from "node:dns";
import { MediaTooLargeError, MediaUrlError } from "../domain/errors.ts";
import { hostMatchesAny } from "../lib/host_patterns.ts";
import { ipLiteral, isRefusedAddress } from "./address_rules.ts";

export interface MediaUrlFetchOptions {
  /** Hosts fetched even when they resolve to refused addresses (`MEDIA_URL_ALLOWED_HOSTS`). */
  allowedHosts: readonly string[];
  /** One deadline for the whole fetch, body included. */
  timeoutMs: number;
  /** Larger bodies get `MediaTooLargeError` (by `Content-Length` before reading, else as read). */
  maxBytes: number;
  maxRedirects?: number;
}

/** A response being read: its body as chunks, and the type the server said it is. */
export interface FetchedMedia {
  body: AsyncIterable<Uint8Array>;
  /** The `Content-Type`, when it names something more specific than octet-stream. */
  contentType?: string;
  /** Stops reading and frees the connection (after a failure elsewhere). */
  cancel(): void;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Starts fetching `url` under the SSRF rules above; resolves once the final response's headers
 * arrived. Throws `MediaUrlError` (forbidden or failed) or `MediaTooLargeError`.
 *
 * @example
 * ```ts
 * const { body } = await fetchMediaUrl("https://cdn.example.com/a.jpg", { allowedHosts: [], timeoutMs: 60_000, maxBytes: 64 << 20 });
 * for await (const chunk of body) { ... }
 * ```
 */
export async function fetchMediaUrl(
  url: string,
  options: MediaUrlFetchOptions,
): Promise<FetchedMedia> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  const failed = (message: string) => new MediaUrlError("media_url_failed", message);
  let current = parseUrl(url);
  try {
    for (let redirects = 0;; redirects++) {
      const response = await requestOnce(current, options.allowedHosts, controller.signal)
        .catch((error) => {
          if (error instanceof MediaUrlError) throw error;
          throw failed(
            controller.signal.aborted
              ? `fetching the media URL took longer than ${options.timeoutMs} ms`
              : `the media URL could not be fetched: ${(error as Error)?.message ?? error}`,
          );
        });
      const status = response.statusCode ?? 0;
      if (REDIRECTS.has(status) && response.headers.location) {
        response.destroy();
        if (redirects >= (options.maxRedirects ?? 5)) throw failed("too many redirects");
        current = parseUrl(new URL(response.headers.location, current).href);
        continue;
      }
      if (status < 200 || status > 299) {
        response.destroy();
        throw failed(`the media URL answered ${status}`);
      }
      const length = Number(response.headers["content-length"]);
      if (Number.isFinite(length) && length > options.maxBytes) {
        response.destroy();
        throw new MediaTooLargeError(options.maxBytes);
      }
      const type = response.headers["content-type"]?.trim();
      return {
        body: readBody(response, controller.signal, timer, options.timeoutMs),
        ...(type && !/^application\/octet-stream\b/i.test(type) ? { contentType: type } : {}),
        cancel: () => {
          clearTimeout(timer);
          response.destroy();
        },
      };
    }
  } catch (error) {
    clearTimeout(timer);
    throw error;
  }
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new MediaUrlError("media_url_forbidden", "The media URL is not a valid URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new MediaUrlError("media_url_forbidden", "The media URL must be http or https");
  }
  return url;
}

/** One request; the host's addresses are checked in the connection's own DNS lookup. */
function requestOnce(
  url: URL,
  allowedHosts: readonly string[],
  signal: AbortSignal,
): Promise<IncomingMessage> {
  const allowed = hostMatchesAny(url.hostname, allowedHosts);
  const literal = ipLiteral(url.hostname);
  if (literal && !allowed && isRefusedAddress(literal)) throw refused(url.hostname);
  const lookup = (
    hostname: string,
    lookupOptions: { all?: boolean; family?: number },
    callback: (error: Error | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    dnsLookup(hostname, { all: true, family: lookupOptions.family ?? 0 }).then((addresses) => {
      const bad = addresses.find((a) => isRefusedAddress(a.address));
      if (bad && !allowed) return callback(refused(hostname, bad.address), []);
      if (lookupOptions.all) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    }, (error) => callback(error as Error, []));
  };
  const client = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(url, {
      method: "GET",
      headers: { "user-agent": "wa-gateway", accept: "*/*" },
      lookup,
      signal,
    } as http.RequestOptions, resolve);
    request.on("error", reject);
    request.end();
  });
}

function refused(host: string, address?: string): MediaUrlError {
  const where = address ? `${host} (${address})` : host;
  return new MediaUrlError(
    "media_url_forbidden",
    `The media URL's host ${where} is a loopback, private, link-local or reserved address; ` +
      "list it in MEDIA_URL_ALLOWED_HOSTS to allow it",
  );
}

async function* readBody(
  response: IncomingMessage,
  signal: AbortSignal,
  timer: ReturnType<typeof setTimeout>,
  timeoutMs: number,
): AsyncIterable<Uint8Array> {
  try {
    for await (const chunk of response) {
      const bytes = chunk as Uint8Array;
      yield new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    if (!response.complete) throw new Error("the connection closed before the end of the body");
  } catch (error) {
    throw new MediaUrlError(
      "media_url_failed",
      signal.aborted
        ? `fetching the media URL took longer than ${timeoutMs} ms`
        : `reading the media URL failed: ${(error as Error)?.message ?? error}`,
    );
  } finally {
    clearTimeout(timer);
    response.destroy();
  }
}
