import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { Hono } from "hono";
import type { SessionId } from "../../src/domain/session_id.ts";
import { errorResponse } from "../../src/http/error_handler.ts";
import {
  FORWARDED_BY_HEADER,
  type ForwardResult,
  ownerForwarding,
} from "../../src/http/owner_forwarding.ts";
import { LeaseOwnerDirectory } from "../../src/ownership/lease_owner_directory.ts";
import { LocalLeaseTable } from "../../src/ownership/local_lease_lock.ts";
import { testLogger } from "../support/logger.ts";

const TTL = 60_000;

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** A node "b" that owns sessions and echoes what reached it, and a node "a" that forwards. */
async function twoNodes(options: { frozen?: boolean; timeoutMs?: number } = {}) {
  const sessions = new Set(["shop-1", "shop-2"]);
  const table = new LocalLeaseTable({ sessionExists: (id) => sessions.has(id) });
  const frozen = Promise.withResolvers<void>();
  const owner = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    if (options.frozen) await frozen.promise;
    const url = new URL(req.url);
    const bytes = new Uint8Array(await req.arrayBuffer());
    if (url.pathname.endsWith("/media")) {
      // A file both ways: its bytes back, as they arrived.
      return new Response(bytes, { headers: { "content-type": "application/octet-stream" } });
    }
    return Response.json({
      node: "b",
      method: req.method,
      path: url.pathname + url.search,
      body: new TextDecoder().decode(bytes),
      contentType: req.headers.get("content-type"),
      sha256: await sha256Hex(bytes),
      key: req.headers.get("x-api-key"),
      forwardedBy: req.headers.get(FORWARDED_BY_HEADER),
    }, { status: 201, headers: { "x-owner": "yes" } });
  });
  const ownerUrl = `http://127.0.0.1:${owner.addr.port}`;
  await table.registry.heartbeat({ id: "b", url: ownerUrl, draining: false }, TTL);
  await table.registry.heartbeat({ id: "a", url: "http://unused", draining: false }, TTL);
  await table.lock("b").acquire(["shop-1" as SessionId], TTL);

  const results: ForwardResult[] = [];
  const app = new Hono();
  app.use(
    "/api/sessions/*",
    ownerForwarding({
      owners: new LeaseOwnerDirectory({
        lock: table.lock("a"),
        registry: table.registry,
        holds: () => false,
        exists: (id) => Promise.resolve(sessions.has(id)),
      }),
      nodeId: "a",
      timeoutMs: options.timeoutMs ?? 300,
      retryAfterSeconds: 2,
      logger: testLogger(),
      onForward: (result) => results.push(result),
    }),
  );
  app.all("/api/*", (c) => c.json({ node: "a", path: c.req.path }));
  app.onError((error, c) => errorResponse(error, c, testLogger()));
  return {
    app,
    results,
    close: async () => {
      frozen.resolve();
      await owner.shutdown();
    },
  };
}

Deno.test("ownerForwarding() sends a socket request to its owner, with the caller's key and body", async () => {
  const nodes = await twoNodes();
  try {
    const response = await nodes.app.request("/api/sessions/shop-1/messages?x=1", {
      method: "POST",
      headers: { "x-api-key": "caller-key", "content-type": "application/json" },
      body: JSON.stringify({ to: "+15550001111", type: "text", text: "hi" }),
    });
    assertEquals(response.status, 201);
    assertEquals(response.headers.get("x-owner"), "yes");
    const body = JSON.stringify({ to: "+15550001111", type: "text", text: "hi" });
    assertEquals(await response.json(), {
      node: "b",
      method: "POST",
      path: "/api/sessions/shop-1/messages?x=1",
      body,
      contentType: "application/json",
      sha256: await sha256Hex(new TextEncoder().encode(body)),
      key: "caller-key",
      forwardedBy: "a",
    });
    const deleted = await nodes.app.request("/api/sessions/shop-1", { method: "DELETE" });
    assertEquals((await deleted.json()).node, "b");
    assertEquals(nodes.results, ["forwarded", "forwarded"]);
  } finally {
    await nodes.close();
  }
});

Deno.test("ownerForwarding() streams a file to send and a downloaded file through untouched", async () => {
  // A second to answer once the body is in: a loaded machine may stall that long.
  const nodes = await twoNodes({ timeoutMs: 1_000 });
  try {
    // A multipart send whose upload takes longer than the forwarding timeout in all: 24 pieces
    // of 64 KiB, 100 ms apart. Binary, so any re-encoding would show in the hash.
    const file = new Uint8Array(24 * 65_536);
    for (let at = 0; at < file.length; at += 65_536) {
      crypto.getRandomValues(file.subarray(at, at + 65_536));
    }
    const boundary = "form-boundary-7f3a";
    const encoder = new TextEncoder();
    const multipart = new Uint8Array(
      await new Blob([
        encoder.encode(
          `--${boundary}\r\nContent-Disposition: form-data; name="type"\r\n\r\ndocument\r\n` +
            `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n` +
            `Content-Type: application/pdf\r\n\r\n`,
        ),
        file,
        encoder.encode(`\r\n--${boundary}--\r\n`),
      ]).arrayBuffer(),
    );
    let sentAt = 0;
    const slowBody = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sentAt >= multipart.length) return controller.close();
        await new Promise((resolve) => setTimeout(resolve, 100));
        controller.enqueue(multipart.slice(sentAt, sentAt + 65_536));
        sentAt += 65_536;
      },
    });
    const contentType = `multipart/form-data; boundary=${boundary}`;
    const started = performance.now();
    const sent = await nodes.app.request("/api/sessions/shop-1/messages", {
      method: "POST",
      headers: { "content-type": contentType },
      body: slowBody,
    });
    assertEquals(sent.status, 201, await sent.clone().text());
    assert(performance.now() - started > 2_000, "the upload took longer than the timeout");
    const echoed = await sent.json();
    assertEquals(echoed.contentType, contentType);
    assertEquals(echoed.sha256, await sha256Hex(multipart));

    const download = await nodes.app.request("/api/sessions/shop-1/messages/3EB0AB/media", {
      method: "POST",
      body: file,
    });
    assertEquals(download.status, 200);
    assertEquals(
      await sha256Hex(new Uint8Array(await download.arrayBuffer())),
      await sha256Hex(file),
    );
    assertEquals(nodes.results, ["forwarded", "forwarded"]);
  } finally {
    await nodes.close();
  }
});

Deno.test("ownerForwarding() leaves reads and edits of the record, and unknown sessions, to this node", async () => {
  const nodes = await twoNodes();
  try {
    for (
      const [method, path] of [
        ["GET", "/api/sessions/shop-1"],
        ["PATCH", "/api/sessions/shop-1"],
        ["GET", "/api/sessions"],
        ["POST", "/api/sessions/nope/start"],
        ["POST", "/api/sessions/..%2F/start"],
      ]
    ) {
      const response = await nodes.app.request(path, { method });
      assertEquals((await response.json()).node, "a", `${method} ${path}`);
    }
    assertEquals(nodes.results, []);
  } finally {
    await nodes.close();
  }
});

Deno.test("ownerForwarding() answers 503 with Retry-After while a session has no live owner", async () => {
  const nodes = await twoNodes();
  try {
    const response = await nodes.app.request("/api/sessions/shop-2/qr");
    assertEquals(response.status, 503);
    assertEquals(response.headers.get("retry-after"), "2");
    assertEquals((await response.json()).error.code, "owner_unavailable");
  } finally {
    await nodes.close();
  }
});

Deno.test("ownerForwarding() never forwards a forwarded request a second time", async () => {
  const nodes = await twoNodes();
  try {
    const response = await nodes.app.request("/api/sessions/shop-1/start", {
      method: "POST",
      headers: { [FORWARDED_BY_HEADER]: "c" },
    });
    assertEquals(response.status, 503);
    assertEquals(nodes.results, ["moved"]);
  } finally {
    await nodes.close();
  }
});

Deno.test("ownerForwarding() gives up on a frozen owner after its timeout", async () => {
  const nodes = await twoNodes({ frozen: true });
  try {
    const started = performance.now();
    const response = await nodes.app.request("/api/sessions/shop-1/stop", { method: "POST" });
    assertEquals(response.status, 503);
    assert(performance.now() - started < 5_000);
    assertEquals(nodes.results, ["owner_unreachable"]);
    await response.body?.cancel();
  } finally {
    await nodes.close();
  }
});
