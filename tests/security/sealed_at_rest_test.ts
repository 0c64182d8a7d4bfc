/**
 * With SESSIONS_ENCRYPTION_KEY set, what the gateway keeps beside the auth files is encrypted too:
 * webhook secrets in the session metadata, and in the webhook outbox the queued events (message
 * texts) and their endpoint's secret. Without the key such files cannot be opened; with it they read back as written.
 */
import { strict as assert } from "node:assert";
import { EncryptionKeyError } from "../../src/domain/errors.ts";
import { type SessionRecord, SessionRecordSchema } from "../../src/domain/session.ts";
import type { NewOutboxEntry } from "../../src/domain/webhook_outbox.ts";
import { plainCodec } from "../../src/persistence/auth_file_codec.ts";
import { createAesGcmCodec } from "../../src/persistence/encrypted_auth_file.ts";
import { rotateAuthFileKey } from "../../src/persistence/key_rotation.ts";
import { FileSessionStore } from "../../src/persistence/file_session_store.ts";
import { FileWebhookOutbox } from "../../src/persistence/file_webhook_outbox.ts";
import { createValueSealer } from "../../src/persistence/sealed_value.ts";
import { testLogger } from "../support/logger.ts";
import { withTempDir } from "../support/temp_dir.ts";

const logger = testLogger();
const KEY = new Uint8Array(32).map((_, i) => i + 11);
const OTHER_KEY = new Uint8Array(32).map((_, i) => 90 - i);
const SECRET = "whsec-do-not-store-in-clear-0123";
const METADATA = "sessions-metadata.json";

async function openStore(dataDir: string, key?: Uint8Array) {
  const store = new FileSessionStore({
    dataDir,
    logger,
    codec: key ? await createAesGcmCodec(key) : undefined,
    sealer: key ? createValueSealer(key) : undefined,
  });
  const report = await store.open();
  return Object.assign(store, { report });
}

function withWebhook(id: string, secret = SECRET): SessionRecord {
  return SessionRecordSchema.parse({
    id,
    createdAt: "2026-11-25T00:00:00.000Z",
    webhooks: [{ url: `https://hooks.example.com/${id}`, secret, events: [] }],
  });
}

Deno.test("webhook secrets are encrypted in the metadata file and read back with the key", async () => {
  await withTempDir(async (dataDir) => {
    const store = await openStore(dataDir, KEY);
    await store.create(withWebhook("shop-1"));
    await store.close();

    const text = await Deno.readTextFile(`${dataDir}/${METADATA}`);
    assert.ok(!text.includes(SECRET), "the secret is not in the file");
    assert.match(text, /"secret":"sealed:v1:/);

    const reopened = await openStore(dataDir, KEY);
    const [record] = reopened.report.sessions;
    assert.equal(record.webhooks?.[0].secret, SECRET);
    await reopened.close();
  });
});

Deno.test("sealed webhook secrets without the key stop the start, and change nothing", async () => {
  await withTempDir(async (dataDir) => {
    const store = await openStore(dataDir, KEY);
    await store.create(withWebhook("shop-1"));
    await store.close();
    const before = await Deno.readFile(`${dataDir}/${METADATA}`);

    await assert.rejects(
      () => openStore(dataDir),
      (error) => error instanceof EncryptionKeyError && error.code === "encryption_key_required",
    );
    assert.deepEqual(await Deno.readFile(`${dataDir}/${METADATA}`), before);
  });
});

Deno.test("plaintext webhook secrets are encrypted on the first start with a key", async () => {
  await withTempDir(async (dataDir) => {
    const plain = await openStore(dataDir);
    await plain.create(withWebhook("shop-1"));
    await plain.close();
    assert.ok((await Deno.readTextFile(`${dataDir}/${METADATA}`)).includes(SECRET));

    const keyed = await openStore(dataDir, KEY);
    assert.equal(keyed.report.sessions[0].webhooks?.[0].secret, SECRET);
    await keyed.close();
    assert.ok(!(await Deno.readTextFile(`${dataDir}/${METADATA}`)).includes(SECRET));
  });
});

Deno.test("a sealed secret copied into another session's entry does not open: that entry is set aside", async () => {
  await withTempDir(async (dataDir) => {
    const store = await openStore(dataDir, KEY);
    await store.create(withWebhook("shop-1"));
    await store.create(withWebhook("shop-2", "another-secret-0123456789"));
    await store.close();

    const document = JSON.parse(await Deno.readTextFile(`${dataDir}/${METADATA}`));
    document["shop-2"].webhooks[0].secret = document["shop-1"].webhooks[0].secret;
    await Deno.writeTextFile(`${dataDir}/${METADATA}`, JSON.stringify(document));

    const reopened = await openStore(dataDir, KEY);
    const report = reopened.report;
    assert.deepEqual(report.sessions.map((s) => s.id), ["shop-1"]);
    assert.equal(report.quarantined[0]?.key, "shop-2");
    assert.match(report.quarantined[0].reason, /webhooks\.0\.secret/);
    await reopened.close();
  });
});

async function rotate(dataDir: string, from?: Uint8Array, to?: Uint8Array): Promise<void> {
  await rotateAuthFileKey({
    dataDir,
    from: from ? await createAesGcmCodec(from) : plainCodec,
    to: to ? await createAesGcmCodec(to) : plainCodec,
    fromSealer: from ? createValueSealer(from) : undefined,
    toSealer: to ? createValueSealer(to) : undefined,
    logger,
  });
}

Deno.test("a key rotation moves webhook secrets to the new key, and off it to plaintext", async () => {
  await withTempDir(async (dataDir) => {
    const store = await openStore(dataDir, KEY);
    await store.create(withWebhook("shop-1"));
    await store.close();

    await rotate(dataDir, KEY, OTHER_KEY);
    const text = await Deno.readTextFile(`${dataDir}/${METADATA}`);
    assert.ok(!text.includes(SECRET));
    const rotated = await openStore(dataDir, OTHER_KEY);
    assert.equal(rotated.report.sessions[0].webhooks?.[0].secret, SECRET);
    await rotated.close();

    await rotate(dataDir, OTHER_KEY, undefined);
    const plain = await openStore(dataDir);
    assert.equal(plain.report.sessions[0].webhooks?.[0].secret, SECRET);
    await plain.close();
    assert.ok((await Deno.readTextFile(`${dataDir}/${METADATA}`)).includes(SECRET));
  });
});

Deno.test("a rotation run again after a cut keeps secrets already under the new key", async () => {
  await withTempDir(async (dataDir) => {
    const store = await openStore(dataDir, KEY);
    await store.create(withWebhook("shop-1"));
    await store.create(withWebhook("shop-2", "second-secret-0123456789"));
    await store.close();
    // As if a first run had already moved shop-1's secret, then stopped.
    const path = `${dataDir}/${METADATA}`;
    const document = JSON.parse(await Deno.readTextFile(path));
    document["shop-1"].webhooks[0].secret = createValueSealer(OTHER_KEY).seal(
      SECRET,
      "webhook-secret:shop-1:https://hooks.example.com/shop-1",
    );
    await Deno.writeTextFile(path, JSON.stringify(document));

    await rotate(dataDir, KEY, OTHER_KEY);
    const rotated = await openStore(dataDir, OTHER_KEY);
    const secrets = Object.fromEntries(
      rotated.report.sessions.map((s) => [s.id, s.webhooks?.[0].secret]),
    );
    assert.deepEqual(secrets, { "shop-1": SECRET, "shop-2": "second-secret-0123456789" });
    await rotated.close();
  });
});

const PRIVATE_TEXT = "meet me at the usual place";

function queued(n: number): NewOutboxEntry {
  return {
    id: `dlv_${n}`,
    eventId: `evt_${n}`,
    eventType: "message.received",
    sessionId: "shop-1",
    endpoint: { scope: "session", url: "https://hooks.example.com/shop-1", secret: SECRET },
    body: JSON.stringify({ id: `evt_${n}`, data: { message: { text: `${PRIVATE_TEXT} ${n}` } } }),
    createdAt: "2026-11-25T00:00:00.000Z",
  };
}

async function openOutbox(dataDir: string, key?: Uint8Array) {
  const outbox = new FileWebhookOutbox({
    dataDir,
    logger,
    sealer: key ? createValueSealer(key) : undefined,
  });
  const report = await outbox.open();
  return Object.assign(outbox, { report });
}

async function outboxText(dataDir: string): Promise<string> {
  const dir = `${dataDir}/.webhook-outbox`;
  let text = "";
  for await (const entry of Deno.readDir(dir)) {
    text += await Deno.readTextFile(`${dir}/${entry.name}`);
  }
  return text;
}

Deno.test("queued events and their endpoint's secret are encrypted in the outbox, and read back whole", async () => {
  await withTempDir(async (dataDir) => {
    const outbox = await openOutbox(dataDir, KEY);
    const [first] = await outbox.append([queued(1), queued(2)]);
    await outbox.deadLetter(first, { attempts: 3, lastError: "HTTP 500" });
    await outbox.close();

    const text = await outboxText(dataDir);
    assert.ok(!text.includes(PRIVATE_TEXT), "no message text on disk");
    assert.ok(!text.includes(SECRET), "no endpoint secret on disk");

    const reopened = await openOutbox(dataDir, KEY);
    assert.deepEqual(reopened.report.repairs, []);
    const pending = reopened.pending();
    assert.equal(pending.length, 1);
    assert.equal(pending[0].body, queued(2).body);
    assert.equal(pending[0].endpoint.secret, SECRET);
    const [letter] = reopened.deadLettersNow();
    assert.equal(letter.entry.body, queued(1).body);
    assert.equal(letter.entry.endpoint.secret, SECRET);
    // Compaction on open wrote the state back sealed.
    await reopened.close();
    assert.ok(!(await outboxText(dataDir)).includes(PRIVATE_TEXT));
  });
});

Deno.test("a key rotation moves the outbox to the new key; the old key no longer reads it", async () => {
  await withTempDir(async (dataDir) => {
    await (await openStore(dataDir, KEY)).close(); // the key check a keyed data directory has
    const outbox = await openOutbox(dataDir, KEY);
    const [first] = await outbox.append([queued(1), queued(2)]);
    await outbox.deadLetter(first, { attempts: 3, lastError: "HTTP 500" });
    await outbox.close();

    await rotate(dataDir, KEY, OTHER_KEY);
    assert.ok(!(await outboxText(dataDir)).includes(PRIVATE_TEXT));
    const rotated = await openOutbox(dataDir, OTHER_KEY);
    assert.deepEqual(rotated.report.repairs, []);
    assert.deepEqual(rotated.pending().map((e) => e.body), [queued(2).body]);
    assert.deepEqual(rotated.deadLettersNow().map((l) => l.entry.body), [queued(1).body]);
    await rotated.close();

    await rotate(dataDir, OTHER_KEY, undefined);
    assert.ok((await outboxText(dataDir)).includes(PRIVATE_TEXT), "decrypted back to plaintext");
    const plain = await openOutbox(dataDir);
    assert.equal(plain.pending()[0].endpoint.secret, SECRET);
    await plain.close();
  });
});

Deno.test("an outbox entry that does not decrypt is skipped, and the log is kept aside", async () => {
  await withTempDir(async (dataDir) => {
    const outbox = await openOutbox(dataDir, KEY);
    await outbox.append([queued(1)]);
    await outbox.close();

    const reopened = await openOutbox(dataDir, OTHER_KEY);
    assert.equal(reopened.pending().length, 0);
    assert.equal(reopened.report.repairs.length, 1);
    assert.match(reopened.report.repairs[0], /kept as/);
    await reopened.close();
  });
});

Deno.test("a plaintext outbox is encrypted on the first start with a key", async () => {
  await withTempDir(async (dataDir) => {
    const plain = await openOutbox(dataDir);
    await plain.append([queued(1)]);
    await plain.close();
    assert.ok((await outboxText(dataDir)).includes(PRIVATE_TEXT));

    const keyed = await openOutbox(dataDir, KEY);
    assert.equal(keyed.pending()[0].body, queued(1).body);
    assert.ok(!(await outboxText(dataDir)).includes(PRIVATE_TEXT), "rewritten sealed on open");
    await keyed.close();
  });
});
