import { strict as assert } from "node:assert";
import { Http1Error, http1Get } from "../../../src/lib/http1_get.ts";
import { makeTestTls } from "../../support/fake_whatsapp/test_tls.ts";

/** A TCP server on 127.0.0.1 that answers each connection, concurrently, with `respond`. */
function rawServer(respond: (conn: Deno.Conn, request: string) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const requests: string[] = [];
  const handling: Promise<void>[] = [];
  const serve = async (conn: Deno.Conn) => {
    const buffer = new Uint8Array(8192);
    const n = await conn.read(buffer) ?? 0;
    const request = new TextDecoder().decode(buffer.subarray(0, n));
    requests.push(request);
    await respond(conn, request).catch(() => {});
    try {
      conn.close();
    } catch { /* closed by respond */ }
  };
  const done = (async () => {
    for await (const conn of listener) handling.push(serve(conn).catch(() => {}));
  })();
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    requests,
    async [Symbol.asyncDispose]() {
      listener.close();
      await done.catch(() => {});
      await Promise.all(handling);
    },
  };
}

const write = (conn: Deno.Conn, text: string | Uint8Array) =>
  conn.write(typeof text === "string" ? new TextEncoder().encode(text) : text);

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  const all = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) all.set(chunk, (at += chunk.length) - chunk.length);
  return all;
}

function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let at = 0; at < length; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
  return bytes;
}

Deno.test("a body of known length and a chunked one arrive byte for byte, kept chunks intact", async () => {
  const bytes = randomBytes(3 * 1024 * 1024 + 17);
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    if (new URL(request.url).pathname === "/length") return new Response(bytes.slice());
    // No length: Deno sends it chunked, in pieces of its own sizes.
    return new Response(ReadableStream.from((function* () {
      for (let at = 0; at < bytes.length; at += 100_003) yield bytes.slice(at, at + 100_003);
    })()));
  });
  for (const path of ["/length", "/chunked"]) {
    const response = await http1Get(
      new URL(`http://example.test:${server.addr.port}${path}?q=1`),
      "127.0.0.1",
    );
    assert.equal(response.status, 200);
    assert.equal(
      response.headers.get(path === "/length" ? "content-length" : "transfer-encoding"),
      path === "/length" ? String(bytes.length) : "chunked",
    );
    // Every chunk is held until the end: none may have been written over by a later read.
    assert.deepEqual(await readAll(response.body), bytes, path);
  }
});

Deno.test("the request names the URL's host and path, asks for identity and closes", async () => {
  await using server = rawServer(async (conn) => {
    await write(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  const port = new URL(server.url).port;
  const response = await http1Get(
    new URL(`http://media.example:${port}/a%20b.jpg?x=1&y=2`),
    "127.0.0.1",
    {
      headers: { "user-agent": "wa-gateway" },
    },
  );
  assert.equal(new TextDecoder().decode(await readAll(response.body)), "ok");
  const [request] = server.requests;
  assert.match(request, /^GET \/a%20b\.jpg\?x=1&y=2 HTTP\/1\.1\r\n/);
  assert.match(request, new RegExp(`\r\nHost: media\\.example:${port}\r\n`));
  assert.match(request, /\r\nuser-agent: wa-gateway\r\n/);
  assert.match(request, /\r\naccept-encoding: identity\r\n/);
  assert.match(request, /\r\nconnection: close\r\n\r\n$/);
});

Deno.test("a response written a byte at a time, after a 100 Continue, with chunk extensions and trailers", async () => {
  const message = "HTTP/1.1 100 Continue\r\n\r\n" +
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nX-A: 2\r\n\r\n" +
    "5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n";
  await using server = rawServer(async (conn) => {
    for (const byte of new TextEncoder().encode(message)) await write(conn, new Uint8Array([byte]));
  });
  const response = await http1Get(new URL(server.url), "127.0.0.1");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("x-a"), "1, 2");
  assert.equal(new TextDecoder().decode(await readAll(response.body)), "hello world");
});

Deno.test("without a length or chunking the body runs to the end of the connection", async () => {
  await using server = rawServer(async (conn) => {
    await write(conn, "HTTP/1.0 200 OK\r\n\r\nall of it");
  });
  const response = await http1Get(new URL(server.url), "127.0.0.1");
  assert.equal(new TextDecoder().decode(await readAll(response.body)), "all of it");
});

Deno.test("a body cut short, by length or inside a chunk, is an error, never a short file", async () => {
  const cases = {
    length: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this",
    chunked: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\nonly this",
    "chunked, no last chunk": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n",
  };
  for (const [name, message] of Object.entries(cases)) {
    await using server = rawServer(async (conn) => {
      await write(conn, message);
    });
    const response = await http1Get(new URL(server.url), "127.0.0.1");
    await assert.rejects(readAll(response.body), Http1Error, name);
  }
});

Deno.test("responses that break HTTP/1.1 framing are refused", async () => {
  const cases: Record<string, string> = {
    "status line": "ICY 200 OK\r\n\r\n",
    "folded header": "HTTP/1.1 200 OK\r\nX-A: 1\r\n  more\r\n\r\n",
    "two lengths": "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
    "gzip transfer": "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    "compressed content": "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 1\r\n\r\nx",
    "chunk size": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "chunk end": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n",
    "endless chunk line": `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;${
      "x".repeat(5000)
    }`,
    "endless head": `HTTP/1.1 200 OK\r\nX-A: ${"a".repeat(70_000)}`,
    "no response": "",
  };
  for (const [name, message] of Object.entries(cases)) {
    await using server = rawServer(async (conn) => {
      await write(conn, message);
    });
    await assert.rejects(
      http1Get(new URL(server.url), "127.0.0.1").then((response) => readAll(response.body)),
      Http1Error,
      name,
    );
  }
});

Deno.test("HTTPS is verified against the URL's host, not the address connected to", async () => {
  const tls = await makeTestTls();
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: tls.certPem, key: tls.keyPem, onListen() {} },
    () => new Response("secure"),
  );
  const url = (host: string) => new URL(`https://${host}:${server.addr.port}/`);
  const trusted = { caCerts: [tls.caCertPem] };
  const response = await http1Get(url("localhost"), "127.0.0.1", trusted);
  assert.equal(new TextDecoder().decode(await readAll(response.body)), "secure");
  // The same address under a name the certificate does not carry, and a CA not trusted.
  await assert.rejects(
    http1Get(url("cdn.example.test"), "127.0.0.1", trusted).then((r) => readAll(r.body)),
  );
  await assert.rejects(http1Get(url("localhost"), "127.0.0.1").then((r) => readAll(r.body)));
});

Deno.test("an abort ends a request waiting for its response, and a body being read", async () => {
  const release = Promise.withResolvers<void>();
  await using server = rawServer(async (conn, request) => {
    if (request.startsWith("GET /body")) {
      await write(conn, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab");
    }
    await release.promise;
  });
  const silent = new AbortController();
  const waiting = http1Get(new URL(`${server.url}/silent`), "127.0.0.1", { signal: silent.signal });
  setTimeout(() => silent.abort(new Error("deadline")), 50);
  await assert.rejects(waiting, /deadline/);

  const reading = new AbortController();
  const response = await http1Get(new URL(`${server.url}/body`), "127.0.0.1", {
    signal: reading.signal,
  });
  setTimeout(() => reading.abort(new Error("deadline")), 50);
  await assert.rejects(readAll(response.body));
  release.resolve();
});
