/**
 * Uploading an encrypted media file to the hosts WhatsApp's `media_conn` names, as Baileys'
 * `waUploadToServer` does (`POST https://<host>/mms/<type>/<token>?auth=…&token=…`, the token
 * being the file's encrypted SHA-256 in URL-safe base64; each host tried in turn), but with the
 * open file as the request body: Deno then streams it to the socket without its bytes passing
 * through JavaScript. Baileys reads it with a Node stream instead, a new buffer for every 64 KiB,
 * which V8 frees only after tens of megabytes (about 60 MiB more RSS for a large file).
 */
import { Buffer } from "node:buffer";
import { DEFAULT_ORIGIN, MEDIA_PATH_MAP, type MediaType } from "@whiskeysockets/baileys";
import { z } from "zod";
import { errorMessage } from "../lib/error_message.ts";

/** What `media_conn` answered: the hosts to upload to and the upload token. */
export interface MediaConn {
  auth: string;
  hosts: { hostname: string }[];
}

/** What of the socket an upload uses: Baileys' cached `media_conn` query. */
export interface MediaConnSource {
  refreshMediaConn(forceGet?: boolean): Promise<MediaConn>;
}

/** Where an uploaded file is now. */
export interface MediaHostFile {
  mediaUrl: string;
  directPath: string;
}

/** What a media host answers an upload it took (other fields are ignored). */
const HOST_ANSWER = z.object({ url: z.string().optional(), direct_path: z.string().optional() });

/**
 * Uploads the encrypted file at `encPath` to the first media host that takes it, each attempt
 * within `timeoutMs`; throws an `Error` naming every host's failure when none did.
 *
 * @example
 * ```ts
 * const { directPath } = await uploadToMediaHost(socket, "/data/.media/tmp/x/upload.enc", sha, "image", 60_000);
 * ```
 */
export async function uploadToMediaHost(
  source: MediaConnSource,
  encPath: string,
  fileEncSha256: Uint8Array,
  mediaType: MediaType,
  timeoutMs: number,
): Promise<MediaHostFile> {
  const token = Buffer.from(fileEncSha256).toString("base64url");
  let conn = await source.refreshMediaConn(false);
  const failures: string[] = [];
  for (const { hostname } of conn.hosts) {
    const url = `https://${hostname}${MEDIA_PATH_MAP[mediaType]}/${token}` +
      `?auth=${encodeURIComponent(conn.auth)}&token=${token}`;
    try {
      const answer = await postFile(url, encPath, timeoutMs);
      const placed = HOST_ANSWER.safeParse(answer);
      if (placed.success && (placed.data.url || placed.data.direct_path)) {
        return { mediaUrl: placed.data.url ?? "", directPath: placed.data.direct_path ?? "" };
      }
      failures.push(`${hostname} answered ${JSON.stringify(answer).slice(0, 200)}`);
      // Perhaps the token expired: the next host gets a fresh one, as in Baileys.
      conn = await source.refreshMediaConn(true);
    } catch (error) {
      failures.push(`${hostname}: ${errorMessage(error)}`);
    }
  }
  throw new Error(`the media upload failed on every host (${failures.join("; ") || "none"})`);
}

/** One attempt, the file as the body: the host's JSON answer (or its status, without one). */
async function postFile(url: string, path: string, timeoutMs: number): Promise<unknown> {
  // `readable` closes the file once read; disposing of it covers a failure before that.
  using file = await Deno.open(path, { read: true });
  const response = await fetch(url, {
    method: "POST",
    body: file.readable,
    headers: { "content-type": "application/octet-stream", origin: DEFAULT_ORIGIN },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { status: response.status, body: text.slice(0, 100) };
  }
}
