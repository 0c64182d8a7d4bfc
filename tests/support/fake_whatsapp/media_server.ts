/**
 * The fake's media server: HTTPS on 127.0.0.1 with a certificate from a CA made for this server
 * alone (`test_tls.ts`), so only processes told to trust it can reach it. Companions upload
 * encrypted media the way Baileys does (`POST /mms/<type>/<token>?auth=…&token=…`, the token
 * being the base64url SHA-256 of the body, checked here) and get a `url` and `direct_path`;
 * anyone downloads with `GET <direct_path>`. Simulated phones put and read files directly.
 */
import { createHash } from "node:crypto";
import { makeTestTls, type TestTls } from "./test_tls.ts";

/** One upload a companion made. */
export interface MediaUpload {
  /** `image`, `video`, `audio` or `document`: the `/mms/<type>` of the upload URL. */
  type: string;
  directPath: string;
  size: number;
}

const UPLOAD_PATH = /^\/mms\/(image|video|audio|document)\/([A-Za-z0-9_-]{43})$/;
const DIRECT_PATH_PREFIX = "/v/t62.7118-24/";

const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** The media host of one fake server. */
export class FakeMediaServer {
  /** `127.0.0.1:<port>`: the `hostname` of `media_conn` (Baileys builds `https://<host>/…`). */
  readonly host: string;
  /** The CA to trust (PEM), and a file holding it (for `DENO_CERT`). */
  readonly caCertPem: string;
  readonly caCertFile: string;
  /** Its certificate (for 127.0.0.1 and localhost) and key, for other servers trusted the same way. */
  readonly tls: TestTls;
  /** The upload token `media_conn` hands out. */
  readonly auth = crypto.randomUUID();
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #files = new Map<string, Uint8Array>();
  readonly #uploads: MediaUpload[] = [];
  readonly #downloads: string[] = [];

  private constructor(
    server: Deno.HttpServer<Deno.NetAddr>,
    tls: TestTls,
    caCertFile: string,
  ) {
    this.#server = server;
    this.host = `127.0.0.1:${server.addr.port}`;
    this.tls = tls;
    this.caCertPem = tls.caCertPem;
    this.caCertFile = caCertFile;
  }

  /** Starts a media server on a random port. */
  static async start(): Promise<FakeMediaServer> {
    const tls = await makeTestTls();
    const caCertFile = await Deno.makeTempFile({ prefix: "fake-wa-media-ca-", suffix: ".pem" });
    await Deno.writeTextFile(caCertFile, tls.caCertPem);
    const handler: { serve?: (request: Request) => Promise<Response> } = {};
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, cert: tls.certPem, key: tls.keyPem, onListen() {} },
      (request) => handler.serve!(request),
    );
    const media = new FakeMediaServer(server, tls, caCertFile);
    handler.serve = (request) => media.#serve(request);
    return media;
  }

  /** What companions uploaded, oldest first. */
  uploads(): MediaUpload[] {
    return [...this.#uploads];
  }

  /** The direct paths downloaded so far, in order (with repeats). */
  downloads(): string[] {
    return [...this.#downloads];
  }

  /** Stores an encrypted file as a phone's upload would; returns its `url` and `directPath`. */
  put(encrypted: Uint8Array): { url: string; directPath: string } {
    const name = `${crypto.randomUUID().replaceAll("-", "")}_n.enc`;
    const path = `${DIRECT_PATH_PREFIX}${name}`;
    this.#files.set(path, encrypted);
    const directPath = `${path}?ccb=11-4&oh=${crypto.randomUUID().slice(0, 8)}&_nc_sid=5e03e0`;
    return { url: `https://${this.host}${directPath}&mms3=true`, directPath };
  }

  /** The stored bytes at a direct path (with or without its query); `undefined` if none. */
  get(directPath: string): Uint8Array | undefined {
    return this.#files.get(new URL(directPath, "https://x").pathname);
  }

  /** Changes one byte of a stored file, as a broken CDN would. */
  corrupt(directPath: string): void {
    const file = this.get(directPath);
    if (!file) throw new Error(`no media at ${directPath}`);
    file[Math.floor(file.length / 2)] ^= 0xff;
  }

  /** Forgets a stored file: downloads get 404, as for expired media. */
  expire(directPath: string): void {
    this.#files.delete(new URL(directPath, "https://x").pathname);
  }

  async close(): Promise<void> {
    await this.#server.shutdown();
    await Deno.remove(this.caCertFile).catch(() => {});
  }

  async #serve(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.method === "GET" && url.pathname.startsWith(DIRECT_PATH_PREFIX)) {
      this.#downloads.push(url.pathname);
      const file = this.#files.get(url.pathname);
      if (!file) return new Response("not found", { status: 404 });
      return new Response(file.slice(), {
        headers: { "content-type": "application/octet-stream" },
      });
    }
    const upload = UPLOAD_PATH.exec(url.pathname);
    if (request.method !== "POST" || !upload) return new Response("no route", { status: 404 });
    if (url.searchParams.get("auth") !== this.auth) {
      await request.body?.cancel();
      return Response.json({ error: "bad auth" }, { status: 401 });
    }
    const body = new Uint8Array(await request.arrayBuffer());
    const token = base64url(new Uint8Array(createHash("sha256").update(body).digest()));
    if (token !== upload[2] || url.searchParams.get("token") !== token) {
      return Response.json({ error: "fileEncSha256 does not match the body" }, { status: 400 });
    }
    const { url: mediaUrl, directPath } = this.put(body);
    this.#uploads.push({ type: upload[1], directPath, size: body.length });
    return Response.json({ url: mediaUrl, direct_path: directPath });
  }
}

const trustedMediaHosts = new Map<string, Deno.HttpClient>();

/**
 * Makes `fetch` in this thread (Baileys' uploads and downloads) trust a fake media server's CA,
 * for requests to that server only. A gateway process gets `DENO_CERT` instead.
 */
export function trustFakeMedia(media: Pick<FakeMediaServer, "host" | "caCertPem">): void {
  if (trustedMediaHosts.size === 0) {
    const original = globalThis.fetch;
    globalThis.fetch = (input, init?: RequestInit & { client?: Deno.HttpClient }) => {
      const url = input instanceof Request ? input.url : String(input);
      const client = trustedMediaHosts.get(new URL(url).host);
      return original(input, client && !init?.client ? { ...init, client } : init);
    };
  }
  if (!trustedMediaHosts.has(media.host)) {
    trustedMediaHosts.set(media.host, Deno.createHttpClient({ caCerts: [media.caCertPem] }));
  }
}
