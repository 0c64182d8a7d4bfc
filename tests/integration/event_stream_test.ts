/**
 * `GET /api/events` over a real socket: the app served on loopback, read with `fetch` as a
 * stream, events produced by sessions on the scripted WhatsApp port.
 */
import { strict as assert } from "node:assert";
import { apiKeyHeader, type CoreApp, openCoreApp, requestJson } from "../support/core_app.ts";
import { ScriptedConnectionFactory } from "../support/scripted_connection.ts";
import { openEventStream } from "../support/sse_client.ts";
import { withTempDir } from "../support/temp_dir.ts";

const SECRET = "session-secret-abcdefghijkl";

/** Serves the core app on 127.0.0.1 and runs `fn`; ends the streams and the server after. */
async function withServedApp(
  options: { keepAliveMs?: number },
  fn: (core: CoreApp, url: string, factory: ScriptedConnectionFactory) => Promise<void>,
) {
  const factory = new ScriptedConnectionFactory();
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir, {
      connections: factory,
      sseKeepAliveMs: options.keepAliveMs,
    });
    const listening = Promise.withResolvers<Deno.NetAddr>();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: (addr) => listening.resolve(addr) },
      core.app.fetch,
    );
    const { port } = await listening.promise;
    try {
      await fn(core, `http://127.0.0.1:${port}`, factory);
    } finally {
      core.streams.abort();
      await server.shutdown();
      await core.close();
    }
  });
}

Deno.test("GET /api/events streams events as they happen, filtered by session and type", async () => {
  await withServedApp({}, async (core, url, factory) => {
    const headers = apiKeyHeader(core.app);
    const all = await openEventStream(`${url}/api/events`, headers);
    const onlyA = await openEventStream(`${url}/api/events?session=a`, headers);
    const texts = await openEventStream(
      `${url}/api/events?types=message.received,message.status`,
      headers,
    );
    try {
      assert.equal(all.response.headers.get("content-type"), "text/event-stream");
      for (const id of ["a", "b"]) {
        const res = await requestJson(core.app, "POST", "/api/sessions", {
          id,
          webhooks: [{ url: "https://example.com/hook", secret: SECRET }],
        });
        assert.equal(res.status, 201);
      }
      factory.of("a").receiveText("15550009999", "hello a");
      factory.of("b").receiveText("15550009999", "hello b");

      await all.waitFor((m) => m.filter((e) => e.event === "message.received").length === 2);
      const published = core.events.map((e) => e.id);
      assert.deepEqual(all.messages.map((m) => m.id), published, "every event, in order");
      for (const message of all.messages) {
        assert.equal(message.data.id, message.id);
        assert.equal(message.data.type, message.event);
      }
      const statuses = all.messages.filter((m) => m.event === "session.status");
      assert.deepEqual(statuses.map((m) => [m.data.sessionId, m.data.data.status]), [
        ["a", "initializing"],
        ["a", "connected"],
        ["b", "initializing"],
        ["b", "connected"],
      ]);
      assert.ok(!JSON.stringify(all.messages).includes(SECRET), "no secret in any payload");
      assert.equal(statuses[0].data.data.session.webhooks[0].secret, "********");

      await onlyA.waitFor((m) => m.some((e) => e.event === "message.received"));
      assert.ok(onlyA.messages.every((m) => m.data.sessionId === "a"));
      assert.equal(onlyA.messages.length, 3);

      await texts.waitFor((m) => m.length === 2);
      assert.deepEqual(
        texts.messages.map((m) => [m.event, m.data.data.message.text]),
        [["message.received", "hello a"], ["message.received", "hello b"]],
      );
    } finally {
      for (const stream of [all, onlyA, texts]) await stream.close();
    }
  });
});

Deno.test("an idle stream gets keep-alive comments; a client that leaves is unsubscribed", async () => {
  await withServedApp({ keepAliveMs: 100 }, async (core, url) => {
    const listeners = core.bus.listenerCount;
    const stream = await openEventStream(`${url}/api/events`, apiKeyHeader(core.app));
    assert.equal(core.bus.listenerCount, listeners + 1);
    await stream.waitForComment(/keep-alive/);
    await stream.close();
    const deadline = Date.now() + 5_000;
    while (core.bus.listenerCount !== listeners) {
      if (Date.now() > deadline) throw new Error("the stream's listener was not removed");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
});

Deno.test("shutting down ends every open event stream", async () => {
  await withServedApp({}, async (core, url) => {
    const stream = await openEventStream(`${url}/api/events`, apiKeyHeader(core.app));
    core.streams.abort();
    await stream.ended;
    await stream.close();
  });
});

Deno.test("GET /api/events refuses bad filters (400) and callers without the key (401)", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir);
    try {
      for (
        const query of ["types=message.received,nope", "session=../x", "types=" + "a".repeat(600)]
      ) {
        const res = await requestJson(core.app, "GET", `/api/events?${query}`);
        assert.equal(res.status, 400, query);
        assert.equal((await res.json()).error.code, "invalid_input");
      }
      const res = await requestJson(core.app, "GET", "/api/events", undefined, { apiKey: null });
      assert.equal(res.status, 401);
      await res.body?.cancel();
    } finally {
      await core.close();
    }
  });
});
