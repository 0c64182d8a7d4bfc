/**
 * The group, contact and profile routes through the real app and manager on the scripted
 * WhatsApp port: what reaches the connection (normalized JIDs, one operation per request), bad
 * input refused before anything does, and WhatsApp's refusals mapped to 403 and 404.
 */
import { strict as assert } from "node:assert";
import { apiKeyHeader, type CoreApp, openCoreApp, requestJson } from "../support/core_app.ts";
import { ScriptedConnectionFactory } from "../support/scripted_connection.ts";
import { withTempDir } from "../support/temp_dir.ts";
import { GroupNotFoundError, WhatsAppForbiddenError } from "../../src/domain/errors.ts";

const GROUP = "120363012345678901@g.us";

async function withGroupApp(
  fn: (core: CoreApp, factory: ScriptedConnectionFactory) => Promise<void>,
) {
  const factory = new ScriptedConnectionFactory();
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir, { connections: factory });
    try {
      const res = await requestJson(core.app, "POST", "/api/sessions", { id: "shop-1" });
      assert.equal(res.status, 201);
      await fn(core, factory);
    } finally {
      await core.close();
    }
  });
}

Deno.test("group routes hand the connection normalized JIDs, one operation per request", async () => {
  await withGroupApp(async (core, factory) => {
    factory.answer = (operation) => operation.kind === "changeParticipants" ? [] : { jid: GROUP };
    const calls: [string, string, unknown][] = [
      ["GET", "/api/sessions/shop-1/groups/120363012345678901", undefined],
      ["POST", "/api/sessions/shop-1/groups", {
        subject: " Team ",
        participants: ["+15550009999", "15550009999@s.whatsapp.net", "15550008888"],
      }],
      ["POST", `/api/sessions/shop-1/groups/${GROUP}/participants`, {
        action: "demote",
        participants: ["15550008888:2@s.whatsapp.net"],
      }],
      ["PATCH", `/api/sessions/shop-1/groups/${GROUP}`, { description: null }],
      ["POST", "/api/sessions/shop-1/groups/join", {
        code: "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv",
      }],
      ["POST", "/api/sessions/shop-1/contacts/+15550009999/block", undefined],
    ];
    for (const [method, path, body] of calls) {
      const res = await requestJson(core.app, method, path, body);
      assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${await res.text()}`);
    }
    assert.deepEqual(factory.operations.map((o) => o.operation), [
      { kind: "getGroup", group: GROUP },
      {
        kind: "createGroup",
        subject: "Team",
        participants: ["15550009999@s.whatsapp.net", "15550008888@s.whatsapp.net"],
      },
      {
        kind: "changeParticipants",
        group: GROUP,
        action: "demote",
        participants: ["15550008888@s.whatsapp.net"],
      },
      { kind: "updateGroup", group: GROUP, changes: { description: null } },
      { kind: "joinGroup", code: "AbCdEfGhIjKlMnOpQrStUv" },
      { kind: "setBlocked", jid: "15550009999@s.whatsapp.net", blocked: true },
    ]);
  });
});

Deno.test("invalid JIDs, actions, subjects and codes are 400 and reach no connection", async () => {
  await withGroupApp(async (core, factory) => {
    const bad: [string, string, unknown][] = [
      ["GET", "/api/sessions/shop-1/groups/abc", undefined],
      ["GET", "/api/sessions/shop-1/groups/15550009999@s.whatsapp.net", undefined],
      ["GET", "/api/sessions/shop-1/groups/..%2F..%2Fetc", undefined],
      ["POST", "/api/sessions/shop-1/groups", {
        subject: "x".repeat(101),
        participants: ["15550009999"],
      }],
      ["POST", "/api/sessions/shop-1/groups", { subject: "Team", participants: [] }],
      ["POST", "/api/sessions/shop-1/groups", { subject: "Team", participants: [GROUP] }],
      ["POST", "/api/sessions/shop-1/groups", { subject: "Team", participants: ["1"], extra: 1 }],
      ["POST", `/api/sessions/shop-1/groups/${GROUP}/participants`, {
        action: "kick",
        participants: ["15550009999"],
      }],
      ["PATCH", `/api/sessions/shop-1/groups/${GROUP}`, {}],
      ["PATCH", `/api/sessions/shop-1/groups/${GROUP}`, { description: "x".repeat(2049) }],
      ["POST", "/api/sessions/shop-1/groups/join", {
        code: "https://evil.example/AbCdEfGhIjKlMnOpQrStUv",
      }],
      ["GET", "/api/sessions/shop-1/contacts/200000000000002@lid", undefined],
      ["POST", `/api/sessions/shop-1/contacts/${GROUP}/presence/subscribe`, undefined],
      ["PATCH", "/api/sessions/shop-1/profile", { about: "x".repeat(140) }],
      ["PATCH", "/api/sessions/shop-1/profile", { name: "" }],
    ];
    for (const [method, path, body] of bad) {
      const res = await requestJson(core.app, method, path, body);
      const text = await res.text();
      assert.equal(res.status, 400, `${method} ${path}: ${res.status} ${text}`);
      assert.equal(JSON.parse(text).error.code, "invalid_input");
    }
    assert.deepEqual(factory.operations, []);
  });
});

Deno.test("WhatsApp's refusals: an unknown group is 404, not an admin is 403 with its reason", async () => {
  await withGroupApp(async (core, factory) => {
    factory.answer = (operation) => {
      if (operation.kind === "getGroup") throw new GroupNotFoundError(`Group '${GROUP}' is gone`);
      throw new WhatsAppForbiddenError("WhatsApp refused to add the participants: forbidden (403)");
    };
    const missing = await requestJson(core.app, "GET", `/api/sessions/shop-1/groups/${GROUP}`);
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, "group_not_found");
    const refused = await requestJson(
      core.app,
      "POST",
      `/api/sessions/shop-1/groups/${GROUP}/participants`,
      { action: "add", participants: ["15550009999"] },
    );
    assert.equal(refused.status, 403);
    const body = await refused.json();
    assert.equal(body.error.code, "whatsapp_forbidden");
    assert.match(body.error.message, /forbidden \(403\)/);
    const unknownSession = await requestJson(core.app, "GET", "/api/sessions/nope/groups");
    assert.equal(unknownSession.status, 404);
  });
});

Deno.test("a picture must be a JPEG sent as image/jpeg", async () => {
  await withGroupApp(async (core, factory) => {
    const post = async (type: string, body: Uint8Array<ArrayBuffer>) =>
      await core.app.request("/api/sessions/shop-1/profile/picture", {
        method: "POST",
        headers: { ...apiKeyHeader(core.app), "content-type": type },
        body,
      });
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2]);
    assert.equal((await post("image/png", jpeg)).status, 415);
    assert.equal((await post("image/jpeg", new TextEncoder().encode("<svg/>"))).status, 400);
    assert.equal(factory.operations.length, 0);
    assert.equal((await post("image/jpeg", jpeg)).status, 204);
    const [{ operation }] = factory.operations;
    assert.equal(operation.kind, "setProfilePicture");
  });
});
