import { strict as assert } from "node:assert";
import { apiKeyHeader, openCoreApp, writeFakeCreds } from "../support/core_app.ts";
import { snapshotTree, withTempDir } from "../support/temp_dir.ts";

interface BadRequest {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  status: number;
  code: string;
}

const JSON_HEADERS = { "content-type": "application/json" };

const CASES: BadRequest[] = [
  {
    name: "malformed JSON",
    method: "POST",
    path: "/api/sessions",
    headers: JSON_HEADERS,
    body: '{"id": "x"',
    status: 400,
    code: "malformed_json",
  },
  {
    name: "JSON that is not an object",
    method: "POST",
    path: "/api/sessions",
    headers: JSON_HEADERS,
    body: "[1,2,3]",
    status: 400,
    code: "invalid_input",
  },
  {
    name: "id with a path traversal",
    method: "POST",
    path: "/api/sessions",
    headers: JSON_HEADERS,
    body: JSON.stringify({ id: "../../etc" }),
    status: 400,
    code: "invalid_input",
  },
  {
    name: "id that is too long",
    method: "POST",
    path: "/api/sessions",
    headers: JSON_HEADERS,
    body: JSON.stringify({ id: "a".repeat(65) }),
    status: 400,
    code: "invalid_input",
  },
  {
    name: "id with a NUL byte",
    method: "POST",
    path: "/api/sessions",
    headers: JSON_HEADERS,
    body: JSON.stringify({ id: "abc\u0000def" }),
    status: 400,
    code: "invalid_input",
  },
  {
    name: "id of the wrong type",
    method: "POST",
    path: "/api/sessions",
    headers: JSON_HEADERS,
    body: JSON.stringify({ id: 42 }),
    status: 400,
    code: "invalid_input",
  },
  {
    name: "unknown field",
    method: "POST",
    path: "/api/sessions",
    headers: JSON_HEADERS,
    body: JSON.stringify({ id: "ok", admin: true }),
    status: 400,
    code: "invalid_input",
  },
  {
    name: "text/plain body",
    method: "POST",
    path: "/api/sessions",
    headers: { "content-type": "text/plain" },
    body: JSON.stringify({ id: "plain" }),
    status: 415,
    code: "unsupported_media_type",
  },
  {
    name: "form body",
    method: "POST",
    path: "/api/sessions",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "id=form",
    status: 415,
    code: "unsupported_media_type",
  },
  {
    name: "oversized body",
    method: "POST",
    path: "/api/sessions",
    headers: JSON_HEADERS,
    body: JSON.stringify({ id: "big", name: "x".repeat(70 * 1024) }),
    status: 413,
    code: "payload_too_large",
  },
  {
    name: "encoded traversal in the path",
    method: "GET",
    path: "/api/sessions/..%2F..%2Fetc%2Fpasswd",
    status: 400,
    code: "invalid_input",
  },
  {
    // URL parsing folds "%2e%2e" into "..", so this never reaches a session route at all.
    name: "encoded dot-dot in the path",
    method: "DELETE",
    path: "/api/sessions/%2e%2e",
    status: 404,
    code: "not_found",
  },
  {
    name: "NUL in the path",
    method: "DELETE",
    path: "/api/sessions/abc%00",
    status: 400,
    code: "invalid_input",
  },
  {
    name: "rename to a non-string",
    method: "PATCH",
    path: "/api/sessions/existing",
    headers: JSON_HEADERS,
    body: JSON.stringify({ name: { nested: true } }),
    status: 400,
    code: "invalid_input",
  },
  {
    name: "rename an unknown session",
    method: "PATCH",
    path: "/api/sessions/unknown",
    headers: JSON_HEADERS,
    body: JSON.stringify({ name: "x" }),
    status: 404,
    code: "session_not_found",
  },
  {
    name: "delete an unknown session",
    method: "DELETE",
    path: "/api/sessions/unknown",
    status: 404,
    code: "session_not_found",
  },
  {
    name: "create a duplicate",
    method: "POST",
    path: "/api/sessions",
    headers: JSON_HEADERS,
    body: JSON.stringify({ id: "existing" }),
    status: 409,
    code: "session_exists",
  },
  {
    name: "dead letter id with a path traversal",
    method: "DELETE",
    path: "/api/webhooks/dead-letters/..%2F..%2Fsessions-metadata.json",
    status: 404,
    code: "dead_letter_not_found",
  },
  {
    name: "retry of an unknown dead letter",
    method: "POST",
    path: "/api/webhooks/dead-letters/dlv_nope/retry",
    status: 404,
    code: "dead_letter_not_found",
  },
  {
    name: "event stream for an unknown event type",
    method: "GET",
    path: "/api/events?types=message.received,../../etc",
    status: 400,
    code: "invalid_input",
  },
  {
    name: "pairing code for a number that is no number",
    method: "POST",
    path: "/api/sessions/existing/pairing-code",
    headers: JSON_HEADERS,
    body: JSON.stringify({ phoneNumber: "../../etc/passwd" }),
    status: 400,
    code: "invalid_input",
  },
  {
    name: "number check of too many numbers",
    method: "POST",
    path: "/api/sessions/existing/check-numbers",
    headers: JSON_HEADERS,
    body: JSON.stringify({
      phoneNumbers: Array.from({ length: 51 }, (_, i) => `1555000${1000 + i}`),
    }),
    status: 400,
    code: "invalid_input",
  },
  {
    name: "session webhook with credentials in its URL",
    method: "PATCH",
    path: "/api/sessions/existing",
    headers: JSON_HEADERS,
    body: JSON.stringify({
      webhooks: [{ url: "https://user:pass@example.com/hook", secret: "s".repeat(20) }],
    }),
    status: 400,
    code: "invalid_input",
  },
];

Deno.test("bad requests get their documented 4xx JSON error and change nothing on disk", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir, { maxBodyBytes: 64 * 1024 });
    try {
      await core.manager.create({ id: "existing", name: "Existing" });
      await writeFakeCreds(dir, "existing");
      const before = await snapshotTree(dir);
      const sessionsBefore = JSON.stringify(core.manager.list());
      for (const c of CASES) {
        const res = await core.app.request(c.path, {
          method: c.method,
          headers: { ...apiKeyHeader(core.app), ...c.headers },
          body: c.body,
        });
        assert.equal(res.status, c.status, `${c.name}: status`);
        assert.match(res.headers.get("content-type") ?? "", /application\/json/, c.name);
        const body = await res.json();
        assert.equal(body.error?.code, c.code, `${c.name}: ${JSON.stringify(body)}`);
        assert.equal(typeof body.error.message, "string", c.name);
      }
      assert.deepEqual(await snapshotTree(dir), before);
      assert.equal(JSON.stringify(core.manager.list()), sessionsBefore);
    } finally {
      await core.close();
    }
  });
});
