/**
 * Fetching a file a caller named by URL, without letting the URL reach inside the network (SSRF):
 * only `http`/`https`; every address the host resolves to must be public (`address_rules.ts`)
 * unless the host is in `MEDIA_URL_ALLOWED_HOSTS`; the connection goes to an address that was
 * checked (resolved once, then connected to by IP, so a second DNS answer cannot differ); each
 * redirect is checked again; one deadline covers redirects and body; the size limit applies as it
 * streams.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { MediaTooLargeError, MediaUrlError } from "../domain/errors.ts";
import { hostMatchesAny } from "../lib/host_patterns.ts";
import { http1Get, type Http1Response } from "../lib/http1_get.ts";
import { ipLiteral, isRefusedAddress } from "./address_rules.ts";
import { errorMessage } from "../lib/error_message.ts";

export interface MediaUrlFetchOptions {
  /** Hosts fetched even when they resolve to refused addresses (`MEDIA_URL_ALLOWED_HOSTS`). */
  allowedHosts: readonly string[];
  /** One deadline for the whole fetch, body included. */
  timeoutMs: number;
  /** Larger bodies get `MediaTooLargeError` (by `Content-Length` before reading, else as read). */
  maxBytes: number;
  maxRedirects?: number;
  /** Extra certificate authorities for https (PEM), beside the default store and `DENO_CERT`. */
  caCerts?: string[];
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
      const response = await requestOnce(current, options, controller.signal)
        .catch((error) => {
          if (error instanceof MediaUrlError) throw error;
          throw failed(
            controller.signal.aborted
              ? `fetching the media URL took longer than ${options.timeoutMs} ms`
              : `the media URL could not be fetched: ${errorMessage(error)}`,
          );
        });
      const { status, headers } = response;
      const location = headers.get("location");
      if (REDIRECTS.has(status) && location) {
        response.close();
        if (redirects >= (options.maxRedirects ?? 5)) throw failed("too many redirects");
        current = parseUrl(new URL(location, current).href);
        continue;
      }
      if (status < 200 || status > 299) {
        response.close();
        throw failed(`the media URL answered ${status}`);
      }
      const length = Number(headers.get("content-length") ?? NaN);
      if (Number.isFinite(length) && length > options.maxBytes) {
        response.close();
        throw new MediaTooLargeError(options.maxBytes);
      }
      const type = headers.get("content-type")?.trim();
      return {
        body: readBody(response, controller.signal, timer, options.timeoutMs),
        ...(type && !/^application\/octet-stream\b/i.test(type) ? { contentType: type } : {}),
        cancel: () => {
          clearTimeout(timer);
          response.close();
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

/**
 * One request. The host is resolved here and every address it has is checked (all of them, so
 * which one a retry picks cannot matter); the connection then goes to a checked address by IP.
 */
async function requestOnce(
  url: URL,
  options: MediaUrlFetchOptions,
  signal: AbortSignal,
): Promise<Http1Response> {
  const allowed = hostMatchesAny(url.hostname, options.allowedHosts);
  const literal = ipLiteral(url.hostname);
  if (literal && !allowed && isRefusedAddress(literal)) throw refused(url.hostname);
  const addresses = literal ? [literal] : (await dnsLookup(url.hostname, { all: true }))
    .map((found) => found.address);
  const bad = addresses.find((address) => isRefusedAddress(address));
  if (bad && !allowed) throw refused(url.hostname, bad);
  const request = {
    signal,
    headers: { "user-agent": "wa-gateway", accept: "*/*" },
    ...(options.caCerts ? { caCerts: options.caCerts } : {}),
  };
  for (const [index, address] of addresses.entries()) {
    try {
      return await http1Get(url, address, request);
    } catch (error) {
      // The next address only when this one could not be reached at all.
      const unreachable = error instanceof Deno.errors.ConnectionRefused ||
        error instanceof Deno.errors.NetworkUnreachable ||
        error instanceof Deno.errors.TimedOut;
      if (!unreachable || index === addresses.length - 1 || signal.aborted) throw error;
    }
  }
  throw new Error(`${url.hostname} has no address`);
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
  response: Http1Response,
  signal: AbortSignal,
  timer: ReturnType<typeof setTimeout>,
  timeoutMs: number,
): AsyncIterable<Uint8Array> {
  try {
    yield* response.body;
  } catch (error) {
    throw new MediaUrlError(
      "media_url_failed",
      signal.aborted
        ? `fetching the media URL took longer than ${timeoutMs} ms`
        : `reading the media URL failed: ${errorMessage(error)}`,
    );
  } finally {
    clearTimeout(timer);
    response.close();
  }
}
