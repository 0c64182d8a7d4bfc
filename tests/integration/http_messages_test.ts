/**
 * `POST /api/sessions/{id}/messages` and `/check-numbers` through the real app and manager, on
 * the scripted WhatsApp port: validation, normalization, the 409 of a session that is not
 * connected, and the events a send and its receipts produce.
 */
import { strict as assert } from "node:assert";
import { type CoreApp, openCoreApp, requestJson } from "../support/core_app.ts";
import { ScriptedConnectionFactory } from "../support/scripted_connection.ts";
import { withTempDir } from "../support/temp_dir.ts";

async function withMessagingApp(
  fn: (core: CoreApp, factory: ScriptedConnectionFactory) => Promise<void>,
  options: { maxBodyBytes?: number } = {},
) {
  const factory = new ScriptedConnectionFactory();
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir, { connections: factory, ...options });
    try {
      const res = await requestJson(core.app, "POST", "/api/sessions", { id: "shop-1" });
      assert.equal(res.status, 201);
      assert.equal((await res.json()).status, "connected");
      await fn(core, factory);
    } finally {
      await core.close();
    }
  });
}

const send = (core: CoreApp, body: unknown, session = "shop-1") =>
  requestJson(core.app, "POST", `/api/sessions/${session}/messages`, body);

Deno.test("a text is sent to the normalized recipient; the answer carries its id and status", async () => {
  await withMessagingApp(async (core, factory) => {
    const res = await send(core, { type: "text", to: "+15550009999", text: "Hello" });
    assert.equal(res.status, 201);
    const body = await res.json();
    assert.deepEqual(Object.keys(body).sort(), ["id", "status", "timestamp", "to", "type"]);
    assert.equal(body.to, "15550009999@s.whatsapp.net");
    assert.equal(body.status, "sent");
    assert.equal(body.type, "text");
    assert.deepEqual(factory.sent.at(-1), {
      sessionId: "shop-1",
      to: "15550009999@s.whatsapp.net",
      message: { type: "text", text: "Hello" },
      id: body.id,
    });
    const event = core.events.find((e) => e.type === "message.sent");
    assert.ok(event && event.type === "message.sent");
    assert.equal(event.message.id, body.id);
    assert.deepEqual(event.content, { type: "text", text: "Hello" });
  });
});

Deno.test("replies, locations and reactions reach the connection as typed messages", async () => {
  await withMessagingApp(async (core, factory) => {
    const jid = "15550009999@s.whatsapp.net";
    const bodies = [
      { type: "text", to: jid, text: "Re: hi", quotedMessageId: "3EB0AAAA" },
      { type: "location", to: jid, latitude: 52.52, longitude: 13.405, name: "Office" },
      { type: "reaction", to: jid, messageId: "3EB0AAAA", emoji: "👍" },
      { type: "reaction", to: jid, messageId: "3EB0AAAA", emoji: "" },
    ];
    for (const body of bodies) {
      const res = await send(core, body);
      assert.equal(res.status, 201, JSON.stringify(body));
      await res.body?.cancel();
    }
    assert.deepEqual(
      factory.sent.map((s) => s.message),
      bodies.map(({ to: _, ...message }) => message),
    );
  });
});

Deno.test("receipts become message.status events, forward only", async () => {
  await withMessagingApp(async (core, factory) => {
    const sent = await (await send(core, { type: "text", to: "15550009999", text: "x" })).json();
    const connection = factory.of("shop-1");
    connection.receipt(sent.id, sent.to, "delivered");
    connection.receipt(sent.id, sent.to, "read");
    connection.receipt(sent.id, sent.to, "delivered"); // late: dropped
    const statuses = core.events.filter((e) => e.type === "message.status");
    assert.deepEqual(
      statuses.map((e) => e.type === "message.status" && [e.messageId, e.previousStatus, e.status]),
      [[sent.id, "sent", "delivered"], [sent.id, "delivered", "read"]],
    );
  });
});

Deno.test("a session that is not connected answers 409 session_not_connected", async () => {
  await withMessagingApp(async (core, factory) => {
    const message = { type: "text", to: "15550009999", text: "x" };
    factory.of("shop-1").drop();
    for (const path of ["messages", "check-numbers"]) {
      const body = path === "messages" ? message : { phoneNumbers: ["15550009999"] };
      const res = await requestJson(core.app, "POST", `/api/sessions/shop-1/${path}`, body);
      assert.equal(res.status, 409, path);
      assert.equal((await res.json()).error.code, "session_not_connected");
    }
    await requestJson(core.app, "POST", "/api/sessions/shop-1/stop");
    const stopped = await send(core, message);
    assert.equal(stopped.status, 409);
    await stopped.body?.cancel();
    assert.equal(factory.sent.length, 0);
  });
});

Deno.test("bad sends get the right 4xx and send nothing", async () => {
  await withMessagingApp(async (core, factory) => {
    const to = "15550009999";
    const cases: [unknown, number, string, string?][] = [
      [{ type: "text", to, text: "x" }, 404, "session_not_found", "nope"],
      [{ type: "text", to, text: "x" }, 400, "invalid_input", "bad.id"],
      [{ type: "text", to: "not-a-number", text: "x" }, 400, "invalid_input"],
      [{ type: "text", to: "123", text: "x" }, 400, "invalid_input"],
      [{ type: "text", to: "1234567890123456", text: "x" }, 400, "invalid_input"],
      [{ type: "text", to: "200000000000002@lid", text: "x" }, 400, "invalid_input"],
      [{ type: "text", to, text: "" }, 400, "invalid_input"],
      [{ type: "text", to, text: "x".repeat(65_537) }, 400, "invalid_input"],
      [{ type: "text", to, text: "x", quotedMessageId: "../../x" }, 400, "invalid_input"],
      [{ type: "text", to, text: "x", extra: true }, 400, "invalid_input"],
      [{ type: "text", text: "x" }, 400, "invalid_input"],
      [{ type: "image", to, url: "https://example.com/a.png" }, 400, "invalid_input"],
      [{ type: "location", to, latitude: 91, longitude: 0 }, 400, "invalid_input"],
      [{ type: "location", to, latitude: "52", longitude: 0 }, 400, "invalid_input"],
      [{ type: "reaction", to, messageId: "3EB0", emoji: "👍👍" }, 400, "invalid_input"],
      [{ type: "reaction", to, emoji: "👍" }, 400, "invalid_input"],
      [[], 400, "invalid_input"],
      [null, 400, "invalid_input"],
    ];
    for (const [body, status, code, session] of cases) {
      const res = await send(core, body, session);
      assert.equal(res.status, status, JSON.stringify(body).slice(0, 100));
      assert.equal((await res.json()).error.code, code, JSON.stringify(body).slice(0, 100));
    }
    const malformed = await core.app.request("/api/sessions/shop-1/messages", {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": core.apiKey },
      body: '{"type":"text",',
    });
    assert.equal(malformed.status, 400);
    assert.equal(factory.sent.length, 0);
  }, { maxBodyBytes: 256 * 1024 });
});

Deno.test("a body over MAX_BODY_BYTES is refused with 413", async () => {
  await withMessagingApp(async (core, factory) => {
    const res = await send(core, { type: "text", to: "15550009999", text: "x".repeat(20_000) });
    assert.equal(res.status, 413);
    assert.equal((await res.json()).error.code, "payload_too_large");
    assert.equal(factory.sent.length, 0);
  }, { maxBodyBytes: 16 * 1024 });
});

Deno.test("check-numbers answers once per number asked, in order", async () => {
  await withMessagingApp(async (core, factory) => {
    factory.onWhatsApp.add("15550009999");
    const res = await requestJson(core.app, "POST", "/api/sessions/shop-1/check-numbers", {
      phoneNumbers: ["+15550009999", "15550008888", "15550009999"],
    });
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).results, [
      { phoneNumber: "15550009999", exists: true, jid: "15550009999@s.whatsapp.net" },
      { phoneNumber: "15550008888", exists: false, jid: null },
      { phoneNumber: "15550009999", exists: true, jid: "15550009999@s.whatsapp.net" },
    ]);
    for (
      const body of [
        { phoneNumbers: [] },
        { phoneNumbers: ["abc"] },
        { phoneNumbers: Array(51).fill("15550009999") },
        {},
      ]
    ) {
      const bad = await requestJson(core.app, "POST", "/api/sessions/shop-1/check-numbers", body);
      assert.equal(bad.status, 400);
      await bad.body?.cancel();
    }
  });
});
