/**
 * Fires well over a thousand generated hostile requests at the real app (real store on a temp
 * dir, encryption on) and checks each gets its documented status, that nothing outside the data
 * directory changes, that the data directory changes only through the requests that were
 * accepted, and that the process stays healthy. The generator is seeded: a failure names the
 * request's index, and the same seed replays it.
 */
import { strict as assert } from "node:assert";
import { isSessionId } from "../../src/domain/session_id.ts";
import { CreateSessionBodySchema, UpdateSessionBodySchema } from "../../src/http/schemas.ts";
import { openCoreApp, readMetadata, TEST_API_KEY, writeFakeCreds } from "../support/core_app.ts";
import { type SeededRandom, seededRandom } from "../support/prng.ts";
import { snapshotTree, withTempDir } from "../support/temp_dir.ts";
import { DASHBOARD_ROUTES } from "../../src/http/dashboard/dashboard_routes.ts";

const SEED = 0x5eed_0006;
const REQUESTS = 1_500;
const MAX_BODY_BYTES = 64 * 1024;
const EXISTING = "existing";
const JSON_TYPE = { "content-type": "application/json" };

interface Expected {
  status: number;
  /** The error code, for 4xx answers. */
  code?: string;
}

interface HostileRequest {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  expected: Expected;
  /** The session an accepted request creates. */
  creates?: string;
}

/** Ids that have broken path handling somewhere, plus look-alikes of valid ones. */
function boundaryIds(sentinel: string): string[] {
  return [
    "",
    " ",
    ".",
    "..",
    "...",
    "../",
    "../..",
    "../../etc/passwd",
    "../sentinel/pwned",
    "../../sentinel",
    "..%2f",
    "%2e%2e%2f",
    "%2e%2e",
    "%2E%2E%2Fsentinel%2Fpwned",
    "..%5c..%5csentinel",
    "..\\..\\sentinel",
    "/etc/passwd",
    `${sentinel}/pwned`,
    `${sentinel}`,
    "C:\\Windows\\System32",
    "\\\\server\\share",
    "\u0000",
    "abc\u0000def",
    "abc\u0000",
    "%00",
    "abc%00.json",
    "a/b",
    "a%2Fb",
    "%",
    "%ff",
    "%E0%A4%A",
    "-leading-dash",
    "_leading-underscore",
    "a".repeat(65),
    "a".repeat(300),
    "b".repeat(64) + "/x",
    "\u0455hop", // Cyrillic "ѕ"
    "\uff53hop", // fullwidth "ｓ"
    "shop\u200b", // zero-width space
    "shop\u202e", // right-to-left override
    "sh\u0307op",
    "\u210c",
    "😀",
    "\ud800",
    "shop.json",
    "creds.json",
    "sessions-metadata.json",
    ".lock",
    ".closed-cleanly",
    ".api-key",
    ".encryption-key-check",
    ".tmp-1234",
    ".trash-1234",
    "a\nb",
    "a\tb",
    "a b",
    "~",
    "~root",
    "$HOME",
    "${HOME}",
    "*",
    "?",
    "#",
    "a?b",
    "a#b",
    "a;b",
    "a:b",
    "a|b",
    "<script>",
  ];
}

const NASTY_CHARS = './\\%\u0000:*?"<>|~$#;@&= \n\t\u00a0\u200b\u0455\uff53😀abcAZ09_-';
const VALID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";

function badId(random: SeededRandom, sentinel: string): string {
  if (random.chance(0.5)) return random.pick(boundaryIds(sentinel));
  for (;;) {
    const id = random.chance(0.5)
      ? random.string(NASTY_CHARS, 0, 80)
      : `${random.string(VALID_CHARS, 1, 10)}${random.string(NASTY_CHARS, 1, 3)}${
        random.string(VALID_CHARS, 0, 10)
      }`;
    if (!isSessionId(id)) return id;
  }
}

/** A valid id that names no session (never `existing`). */
function ghostId(random: SeededRandom): string {
  return `ghost-${random.string(VALID_CHARS, 1, 20)}`;
}

/** How an id is put into a URL: raw, percent-encoded, or double-encoded. */
function inPath(random: SeededRandom, id: string): string {
  const encoded = encodeURIComponent(id.isWellFormed() ? id : id.toWellFormed());
  const way = random.int(0, 2);
  if (way === 0) return id;
  if (way === 1) return encoded;
  return encoded.replace(/%/g, "%25");
}

/** The routes that take an id, with the methods each answers. */
const ID_ROUTES: { suffix: string; methods: string[] }[] = [
  { suffix: "", methods: ["GET", "PATCH", "DELETE"] },
  { suffix: "/start", methods: ["POST"] },
  { suffix: "/stop", methods: ["POST"] },
  { suffix: "/restart", methods: ["POST"] },
  { suffix: "/logout", methods: ["POST"] },
  { suffix: "/qr", methods: ["GET"] },
  { suffix: "/messages", methods: ["POST"] },
  { suffix: "/check-numbers", methods: ["POST"] },
  { suffix: "/pairing-code", methods: ["POST"] },
];
/** Routes that take a body reject a missing one before they look the session up. */
const BODY_ROUTES = new Set(["/messages", "/check-numbers", "/pairing-code"]);
const COLLECTION_METHODS = ["GET", "POST"];
let acceptedCount = 0;
const ODD_METHODS = ["PUT", "OPTIONS", "PROPFIND", "PURGE", "DELETE", "PATCH", "GET", "POST"];

function tryDecode(decode: (s: string) => string, value: string): string {
  try {
    return decode(value);
  } catch {
    return value;
  }
}

/**
 * What the app documents for a body-less request to `path` with a valid key: routing happens on
 * the URL as a browser would normalise it (`..` segments, `\` as `/`), then the id is validated.
 * `undefined` for requests that would be accepted and change something (the caller skips them).
 */
function expectedForPath(method: string, path: string): Expected | undefined {
  const pathname = new URL(path, "http://gateway").pathname;
  if (!pathname.startsWith("/api/")) {
    const open = ["/health", "/ready", ...DASHBOARD_ROUTES].includes(pathname) && method === "GET";
    return open ? { status: 200 } : { status: 404, code: "not_found" };
  }
  if (pathname === "/api/sessions") {
    if (method === "GET") return { status: 200 };
    return method === "POST" ? undefined : { status: 404, code: "not_found" };
  }
  const match = /^\/api\/sessions\/([^/]+)(\/[a-z-]+)?$/.exec(pathname);
  const route = match && ID_ROUTES.find((r) => r.suffix === (match[2] ?? ""));
  if (!match || !route || !route.methods.includes(method)) {
    return { status: 404, code: "not_found" };
  }
  const id = tryDecode(decodeURIComponent, tryDecode(decodeURI, match[1]));
  if (!isSessionId(id)) return { status: 400, code: "invalid_input" };
  if (BODY_ROUTES.has(route.suffix)) return { status: 400, code: "invalid_input" };
  if (id === EXISTING) return undefined;
  return { status: 404, code: "session_not_found" };
}

function wrongKeyHeaders(random: SeededRandom): Record<string, string> {
  const flipped = TEST_API_KEY.slice(0, -1) + (TEST_API_KEY.endsWith("f") ? "e" : "f");
  const variants: Record<string, string>[] = [
    {},
    { "x-api-key": "" },
    { "x-api-key": random.string(VALID_CHARS + "!$%&'*+.^`|~", 1, 80) },
    { "x-api-key": TEST_API_KEY.slice(0, -1) },
    { "x-api-key": `${TEST_API_KEY}x` },
    { "x-api-key": TEST_API_KEY.toUpperCase() },
    { "x-api-key": flipped },
    { "x-api-key": `Bearer ${TEST_API_KEY}` },
    { "x-api-key": "wrong-key", authorization: `Bearer ${TEST_API_KEY}` },
    { authorization: `Bearer ${flipped}` },
    { authorization: "Bearer" },
    { authorization: `Basic ${btoa(`user:${TEST_API_KEY}`)}` },
    { authorization: TEST_API_KEY },
    { authorization: `Token ${TEST_API_KEY}` },
    { "api-key": TEST_API_KEY },
    { "x-api-token": TEST_API_KEY },
    { cookie: `api_key=${TEST_API_KEY}` },
  ];
  return random.pick(variants);
}

function withKey(headers: Record<string, string> = {}): Record<string, string> {
  return { "x-api-key": TEST_API_KEY, ...headers };
}

function malformedJson(random: SeededRandom): string {
  const samples = [
    "",
    " ",
    "{",
    "}",
    "{bad",
    '{"id": }',
    "{'id': 'shop'}",
    '{id: "shop"}',
    '{"id": "shop",}',
    '{"id": "shop" "name": "x"}',
    "NaN",
    "undefined",
    "[1, 2,]",
    '"unterminated',
    "\u0000",
    '{"id": "\\x41"}',
    '{"name": "\\uZZZZ"}',
    "[".repeat(10_000),
    '{"a":'.repeat(10_000),
    "[".repeat(10_000) + "]".repeat(9_999),
  ];
  for (;;) {
    const base = random.pick(samples);
    const text = random.chance(0.3)
      ? JSON.stringify({ id: ghostId(random), name: "x" }).slice(0, random.int(1, 20))
      : random.chance(0.2)
      ? random.string(NASTY_CHARS + '{}[]:,"', 1, 60)
      : base;
    try {
      JSON.parse(text);
    } catch {
      return text;
    }
  }
}

function deeplyNested(random: SeededRandom, depth: number): unknown {
  let value: unknown = random.pick([1, "x", null, true]);
  for (let i = 0; i < depth; i++) value = random.chance(0.5) ? [value] : { a: value };
  return value;
}

/** A JSON body the route's schema rejects (checked against the schema itself). */
function invalidBody(random: SeededRandom, create: boolean, sentinel: string): string {
  const schema = create ? CreateSessionBodySchema : UpdateSessionBodySchema;
  for (;;) {
    const candidates: unknown[] = [
      null,
      42,
      "shop",
      true,
      [],
      [{ id: ghostId(random) }],
      { id: badId(random, sentinel) },
      { id: random.pick([42, null, true, [], {}, ["shop"]]) },
      { id: deeplyNested(random, 10_000) },
      { name: deeplyNested(random, 10_000) },
      deeplyNested(random, random.int(1_000, 10_000)),
      { name: random.pick([42, false, [], {}, "", "   ", "x".repeat(201)]) },
      { name: "ok", admin: true },
      { id: ghostId(random), extra: 1 },
      { __proto__: { admin: true } },
      JSON.parse('{"__proto__": {"admin": true}}'),
      { constructor: { prototype: { admin: true } } },
      { name: "x", id: EXISTING },
    ];
    // Judged as the server sees it: `{ __proto__: … }` serialises to "{}", which is valid.
    const text = JSON.stringify(random.pick(candidates));
    if (!schema.safeParse(JSON.parse(text)).success) return text;
  }
}

const WRONG_TYPES = [
  "text/plain",
  "text/html",
  "text/json",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=xyz",
  "application/xml",
  "application/octet-stream",
  "image/png",
  "application/jsonx",
  "json",
];

/** A request of a random kind; any body over the limit is refused first, whatever it holds. */
function generate(random: SeededRandom, sentinel: string): HostileRequest {
  const request = generateKind(random, sentinel);
  const size = new TextEncoder().encode(request.body ?? "").length;
  if (size > MAX_BODY_BYTES && request.expected.status !== 401) {
    return { ...request, expected: { status: 413, code: "payload_too_large" }, creates: undefined };
  }
  return request;
}

function generateKind(random: SeededRandom, sentinel: string): HostileRequest {
  const kind = random.pick([
    "wrong_key",
    "wrong_key",
    "bad_path_id",
    "bad_path_id",
    "bad_body_id",
    "invalid_body",
    "malformed_json",
    "deep_json",
    "wrong_content_type",
    "oversized",
    "wrong_method",
    "bad_query",
    "unknown_route",
    "accepted",
  ]);
  const bodyTarget = () =>
    random.chance(0.5)
      ? { method: "POST", path: "/api/sessions", create: true }
      : { method: "PATCH", path: `/api/sessions/${EXISTING}`, create: false };

  switch (kind) {
    case "wrong_key": {
      // Any other request, sent without the right key: 401 before anything else runs.
      for (;;) {
        const inner = generate(random, sentinel);
        if (inner.kind === "wrong_key") continue;
        const pathname = new URL(inner.path, "http://gateway").pathname;
        const { "x-api-key": _key, ...rest } = inner.headers;
        return {
          ...inner,
          kind,
          headers: { ...rest, ...wrongKeyHeaders(random) },
          expected: pathname.startsWith("/api/")
            ? { status: 401, code: "unauthorized" }
            : inner.expected,
          creates: undefined,
        };
      }
    }
    case "bad_path_id": {
      for (;;) {
        const route = random.pick(ID_ROUTES);
        const method = random.pick(route.methods);
        const path = `/api/sessions/${inPath(random, badId(random, sentinel))}${route.suffix}`;
        const expected = expectedForPath(method, path);
        if (expected) return { kind, method, path, headers: withKey(), expected };
      }
    }
    case "bad_body_id": {
      const id = badId(random, sentinel);
      return {
        kind,
        method: "POST",
        path: "/api/sessions",
        headers: withKey(JSON_TYPE),
        body: JSON.stringify({ id: id.isWellFormed() ? id : id.toWellFormed(), name: "x" }),
        expected: { status: 400, code: "invalid_input" },
      };
    }
    case "invalid_body": {
      const target = bodyTarget();
      return {
        kind,
        ...target,
        headers: withKey(JSON_TYPE),
        body: invalidBody(random, target.create, sentinel),
        expected: { status: 400, code: "invalid_input" },
      };
    }
    case "malformed_json":
      return {
        kind,
        ...bodyTarget(),
        headers: withKey(JSON_TYPE),
        body: malformedJson(random),
        expected: { status: 400, code: "malformed_json" },
      };
    case "deep_json": {
      const depth = random.pick([1_000, 5_000, 10_000]);
      const target = bodyTarget();
      const balanced = random.chance(0.6);
      const body = balanced
        ? JSON.stringify(
          random.chance(0.5) ? deeplyNested(random, depth) : {
            [random.pick(["id", "name", "extra"])]: deeplyNested(random, depth),
          },
        )
        : "[".repeat(depth) + "]".repeat(depth - 1);
      return {
        kind,
        ...target,
        headers: withKey(JSON_TYPE),
        body,
        expected: balanced
          ? { status: 400, code: "invalid_input" }
          : { status: 400, code: "malformed_json" },
      };
    }
    case "wrong_content_type":
      // A body the route would accept, declared as something else.
      return {
        kind,
        ...bodyTarget(),
        headers: withKey({ "content-type": random.pick(WRONG_TYPES) }),
        body: JSON.stringify({ id: ghostId(random), name: "accepted if it were JSON" }),
        expected: { status: 415, code: "unsupported_media_type" },
      };
    case "oversized": {
      const size = random.int(MAX_BODY_BYTES + 1, 4 * MAX_BODY_BYTES);
      const json = random.chance(0.7);
      const body = json
        ? JSON.stringify({ id: ghostId(random), name: "x".repeat(size) })
        : ((unit) => unit.repeat(Math.ceil(size / unit.length)))(random.string(NASTY_CHARS, 1, 10));
      // Without a Content-Length the limit bites while the body is read, which a JSON route
      // does first; with one (as HTTP clients send it) it bites before anything else.
      const length: Record<string, string> = !json || random.chance(0.5)
        ? { "content-length": String(new TextEncoder().encode(body).length) }
        : {};
      return {
        kind,
        ...bodyTarget(),
        headers: withKey({
          ...length,
          "content-type": json ? "application/json" : random.pick(WRONG_TYPES),
        }),
        body,
        expected: { status: 413, code: "payload_too_large" },
      };
    }
    case "wrong_method": {
      for (;;) {
        const route = random.chance(0.25)
          ? { path: "/api/sessions", methods: COLLECTION_METHODS }
          : (() => {
            const r = random.pick(ID_ROUTES);
            const id = random.chance(0.5) ? EXISTING : ghostId(random);
            return { path: `/api/sessions/${id}${r.suffix}`, methods: r.methods };
          })();
        const method = random.pick(ODD_METHODS);
        if (route.methods.includes(method)) continue;
        return {
          kind,
          method,
          path: route.path,
          headers: withKey(),
          expected: { status: 404, code: "not_found" },
        };
      }
    }
    case "bad_query": {
      const format = random.pick(["bmp", "PNG", "", "png;rm -rf /", "../qr", "%00", "svg%00"]);
      return {
        kind,
        method: "GET",
        path: `/api/sessions/${EXISTING}/qr?format=${encodeURIComponent(format)}`,
        headers: withKey(),
        expected: { status: 400, code: "invalid_input" },
      };
    }
    case "unknown_route": {
      const path = `/api/${random.string(VALID_CHARS + "/.%", 1, 40)}`;
      const method = random.pick(ODD_METHODS);
      const expected = expectedForPath(method, path);
      if (!expected) return generateKind(random, sentinel);
      return { kind, method, path, headers: withKey(), expected };
    }
    default: {
      // The counter keeps ids unique: a repeated id would (rightly) get 409.
      const id = `ok-${++acceptedCount}-${random.string(VALID_CHARS, 1, 30)}`;
      return {
        kind: "accepted",
        method: "POST",
        path: "/api/sessions",
        headers: withKey(JSON_TYPE),
        body: JSON.stringify({ id, name: "created by the hostile suite" }),
        expected: { status: 201 },
        creates: id,
      };
    }
  }
}

/** Files of a snapshot, without the metadata file (compared entry by entry instead). */
function withoutMetadata(tree: Record<string, string>): Record<string, string> {
  const { "sessions-metadata.json": _metadata, ...rest } = tree;
  return rest;
}

Deno.test(
  "1,500 generated hostile requests: documented 4xx, nothing outside the data dir touched",
  async () => {
    await withTempDir(async (root) => {
      const dataDir = `${root}/data`;
      const sentinel = `${root}/sentinel`;
      await Deno.mkdir(`${sentinel}/${EXISTING}`, { recursive: true });
      await Deno.writeTextFile(`${sentinel}/passwd`, "root:x:0:0\n");
      await Deno.writeTextFile(`${sentinel}/${EXISTING}/creds.json`, '{"decoy":true}');
      await Deno.mkdir(dataDir);
      await writeFakeCreds(dataDir, EXISTING);

      const core = await openCoreApp(dataDir, {
        maxBodyBytes: MAX_BODY_BYTES,
        encryptionKey: new Uint8Array(32).fill(6),
      });
      const accepted = new Set<string>();
      try {
        assert.deepEqual(core.restoreReport.adopted, [EXISTING]);
        await core.store.flush();
        const sentinelBefore = await snapshotTree(sentinel);
        const dataBefore = await snapshotTree(dataDir);
        const metadataBefore = await readMetadata(dataDir);
        const existingBefore = await core.manager.get(EXISTING);

        const random = seededRandom(SEED);
        const counts: Record<string, number> = {};
        for (let i = 0; i < REQUESTS; i++) {
          const request = generate(random, sentinel);
          counts[request.kind] = (counts[request.kind] ?? 0) + 1;
          const label = `#${i} ${request.kind} ${request.method} ${
            JSON.stringify(request.body?.slice(0, 100))
          } ${JSON.stringify(request.path.slice(0, 120))} ${
            JSON.stringify(request.headers).slice(0, 200)
          }`;
          const res = await core.app.request(request.path, {
            method: request.method,
            headers: request.headers,
            body: request.body,
          });
          const text = await res.text();
          assert.ok(res.status < 500, `${label}: ${res.status} ${text.slice(0, 300)}`);
          assert.equal(res.status, request.expected.status, `${label}: ${text.slice(0, 300)}`);
          assert.ok(!text.includes(TEST_API_KEY), `${label}: the key is echoed`);
          if (request.expected.code) {
            assert.match(res.headers.get("content-type") ?? "", /application\/json/, label);
            assert.equal(JSON.parse(text).error?.code, request.expected.code, `${label}: ${text}`);
          }
          if (res.status === 401) assert.equal(res.headers.get("www-authenticate"), "Bearer");
          if (request.creates) accepted.add(request.creates);
        }
        for (const kind of Object.keys(counts)) {
          assert.ok(counts[kind] >= 40, `only ${counts[kind]} requests of kind ${kind}`);
        }

        // Outside the data directory: nothing at all.
        assert.deepEqual(await snapshotTree(sentinel), sentinelBefore);
        assert.deepEqual(
          (await Array.fromAsync(Deno.readDir(root))).map((e) => e.name).sort(),
          ["data", "sentinel"],
        );
        // Inside it: only the metadata of the accepted sessions was added.
        await core.store.flush();
        assert.deepEqual(withoutMetadata(await snapshotTree(dataDir)), withoutMetadata(dataBefore));
        const metadataAfter = await readMetadata(dataDir);
        assert.deepEqual(
          Object.keys(metadataAfter).sort(),
          [...Object.keys(metadataBefore), ...accepted].sort(),
        );
        for (const id of Object.keys(metadataBefore)) {
          assert.deepEqual(metadataAfter[id], metadataBefore[id], `session ${id} changed`);
        }
        assert.deepEqual(await core.manager.get(EXISTING), existingBefore);
        assert.equal((await core.manager.list()).length, 1 + accepted.size);

        const health = await core.app.request("/health");
        assert.equal(health.status, 200);
        assert.deepEqual(await health.json(), { status: "ok" });
      } finally {
        await core.close();
      }
    });
  },
);
