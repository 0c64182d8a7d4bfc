/**
 * An HTTP (or HTTPS) server on loopback serving files a test registers, and redirects: what a
 * media URL points at in tests.
 */

/** The server; `await using` closes it. */
export interface FileServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` (`https://` with a certificate). */
  origin: string;
  /** Serves `bytes` at `path` with `contentType`; returns its URL. */
  add(path: string, bytes: Uint8Array, contentType?: string): string;
  /** Redirects `path` (302) to `location`; returns its URL. */
  redirect(path: string, location: string): string;
  /** How many requests it answered. */
  readonly requests: number;
}

/** Starts a file server on 127.0.0.1 at a random port; over HTTPS when given a certificate. */
export function serveFiles(tls?: { certPem: string; keyPem: string }): FileServer {
  const files = new Map<string, { bytes: Uint8Array; contentType?: string }>();
  const redirects = new Map<string, string>();
  let requests = 0;
  const listen = { hostname: "127.0.0.1", port: 0, onListen() {} };
  const options = tls ? { ...listen, cert: tls.certPem, key: tls.keyPem } : listen;
  const server = Deno.serve(options, (request) => {
    requests++;
    const path = new URL(request.url).pathname;
    const location = redirects.get(path);
    if (location) return new Response(null, { status: 302, headers: { location } });
    const file = files.get(path);
    if (!file) return new Response("not found", { status: 404 });
    return new Response(file.bytes.slice(), {
      headers: file.contentType ? { "content-type": file.contentType } : {},
    });
  });
  const origin = `${tls ? "https" : "http"}://127.0.0.1:${server.addr.port}`;
  return {
    origin,
    add(path, bytes, contentType) {
      files.set(path, { bytes, contentType });
      return `${origin}${path}`;
    },
    redirect(path, location) {
      redirects.set(path, location);
      return `${origin}${path}`;
    },
    get requests() {
      return requests;
    },
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
