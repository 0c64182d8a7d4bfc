/**
 * Key rotation (`key_rotation.ts`, `deno task rotate-key`): a data directory encrypted under
 * one key, with a journal a crash left, a sealed webhook secret in the metadata and a sealed
 * queued event, re-encrypted under another.
 *
 * Child: `deno run key_rotation_workload.ts <root>`; says `{op:"rotated"}` once
 * `rotateAuthFileKey` resolved. After a crash before that, the operator's way out must work:
 * start with the new key, or, when startup says a rotation was interrupted, run it again.
 */
import { singleOwnerFence } from "../../../../src/domain/fence.ts";
import { join } from "node:path";
import { EncryptionKeyError } from "../../../../src/domain/errors.ts";
import type { SessionId } from "../../../../src/domain/session_id.ts";
import { encodeJournalRecord } from "../../../../src/persistence/auth_journal_record.ts";
import { createAesGcmCodec } from "../../../../src/persistence/encrypted_auth_file.ts";
import { FileSessionStore } from "../../../../src/persistence/file_session_store.ts";
import { FileWebhookOutbox } from "../../../../src/persistence/file_webhook_outbox.ts";
import { rotateAuthFileKey } from "../../../../src/persistence/key_rotation.ts";
import { createValueSealer } from "../../../../src/persistence/sealed_value.ts";
import { sessionRecord, silentLogger } from "../../persistence_fixtures.ts";
import { materialize } from "../crash_states.ts";
import { type Ack, acknowledge, type CrashWorkload } from "../harness.ts";

const DATA = "data";
const OLD = new Uint8Array(32).fill(11);
const NEW = new Uint8Array(32).fill(22);
const SESSIONS = ["shop-1", "shop-2"];
const FILES = ["creds.json", "pre-key-1.json", "pre-key-2.json", "session-1.json"];
/** Only in shop-1's journal, under the old key, when the rotation starts. */
const JOURNALED = "pre-key-9.json";
const SECRET = "webhook-secret-0123456789";
const BODY = '{"text":"queued while rotating"}';
const content = (session: string, name: string) =>
  new TextEncoder().encode(JSON.stringify({ session, name, pad: "k".repeat(400) }));

async function keys(key: Uint8Array) {
  return { codec: await createAesGcmCodec(key), sealer: createValueSealer(key) };
}

/** Opens the data directory with `key` and checks every file, secret and event; or says why not. */
async function readableWith(dataDir: string, key: Uint8Array): Promise<string | null> {
  const { codec, sealer } = await keys(key);
  const store = new FileSessionStore({ dataDir, logger: silentLogger, codec, sealer });
  const report = await store.open();
  try {
    for (const session of SESSIONS) {
      const names = session === "shop-1" ? [...FILES, JOURNALED] : FILES;
      for (const name of names) {
        const data = await store.auth(singleOwnerFence(session as SessionId)).read(name);
        if (new TextDecoder().decode(data) !== new TextDecoder().decode(content(session, name))) {
          return `${session}/${name} does not read back`;
        }
      }
    }
    const secret = report.sessions.find((s) => s.id === "shop-1")?.webhooks?.[0]?.secret;
    if (secret !== SECRET) return `the webhook secret reads back as ${secret}`;
    if (report.quarantined.length > 0 || report.corruptMetadata) return "metadata set aside";
  } finally {
    await store.close();
  }
  const outbox = new FileWebhookOutbox({ dataDir, logger: silentLogger, sealer });
  const load = await outbox.open();
  const bodies = outbox.pending().map((entry) => entry.body);
  await outbox.close();
  if (bodies.join() !== BODY || load.repairs.length > 0) {
    return `the queued event reads back as ${bodies} (${load.repairs})`;
  }
  return null;
}

/** What the next start finds, and the operator's way out: on the new key, or back on the old. */
async function recoverRotation(dataDir: string, rotated: boolean): Promise<string | null> {
  const code = async (key: Uint8Array) => {
    const { codec, sealer } = await keys(key);
    const store = new FileSessionStore({ dataDir, logger: silentLogger, codec, sealer });
    try {
      await store.open();
      await store.close();
      return "ok";
    } catch (error) {
      if (error instanceof EncryptionKeyError) return error.code;
      throw error;
    }
  };
  const withNew = await code(NEW);
  if (withNew === "ok") return await readableWith(dataDir, NEW);
  if (rotated) return `after the rotation resolved, the new key does not open it: ${withNew}`;
  if (withNew === "key_rotation_incomplete") {
    const [from, to] = [await keys(OLD), await keys(NEW)];
    await rotateAuthFileKey({
      dataDir,
      from: from.codec,
      to: to.codec,
      fromSealer: from.sealer,
      toSealer: to.sealer,
      logger: silentLogger,
    });
    return await readableWith(dataDir, NEW);
  }
  // The rotation had not durably begun: everything is still under the old key.
  return await readableWith(dataDir, OLD);
}

export const keyRotationWorkload: CrashWorkload = {
  name: "key rotation",
  script: new URL(import.meta.url),
  async setup(root) {
    const dataDir = join(root, DATA);
    const { codec, sealer } = await keys(OLD);
    const store = new FileSessionStore({ dataDir, logger: silentLogger, codec, sealer });
    await store.open();
    for (const session of SESSIONS) {
      const id = session as SessionId;
      await store.create(
        sessionRecord(session, {
          webhooks: session === "shop-1"
            ? [{ url: "http://127.0.0.1:9/hook", secret: SECRET, events: [] }]
            : [],
        }),
      );
      await store.auth(singleOwnerFence(id)).write(
        new Map(FILES.map((name) => [name, content(session, name)])),
      );
    }
    await store.close();
    const outbox = new FileWebhookOutbox({ dataDir, logger: silentLogger, sealer });
    await outbox.open();
    await outbox.append([{
      id: "dlv-1",
      eventId: "evt-1",
      eventType: "message.received",
      sessionId: "shop-1",
      endpoint: { scope: "session", url: "http://127.0.0.1:9/hook", secret: SECRET },
      body: BODY,
      createdAt: "2025-01-01T00:00:00.000Z",
    }]);
    await outbox.close();
    // A crash after a batch was journaled under the old key, before it reached the files.
    const file = { sessionId: "shop-1", name: JOURNALED };
    await Deno.writeFile(
      join(dataDir, "shop-1", ".journal"),
      encodeJournalRecord(
        new Map([[JOURNALED, await codec.encode(content("shop-1", JOURNALED), file)]]),
      ),
    );
  },
  args: (root) => [root],
  minAcks: 1,
  async promised(ack: Ack, tree) {
    // A rotation that resolved is complete on disk: the new key opens it, nothing to redo.
    const dir = await Deno.makeTempDir({ prefix: "wa-gateway-crash-rotated-" });
    try {
      await materialize(tree, dir);
      return ack.value.op === "rotated" ? await recoverRotation(join(dir, DATA), true) : null;
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
  recover: (root, acks) =>
    recoverRotation(join(root, DATA), acks.some((ack) => ack.value.op === "rotated")),
};

if (import.meta.main) {
  const [from, to] = [await keys(OLD), await keys(NEW)];
  await rotateAuthFileKey({
    dataDir: join(Deno.args[0], DATA),
    from: from.codec,
    to: to.codec,
    fromSealer: from.sealer,
    toSealer: to.sealer,
    logger: silentLogger,
  });
  acknowledge({ op: "rotated" });
}
