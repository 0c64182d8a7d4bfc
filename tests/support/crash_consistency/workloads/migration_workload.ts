/**
 * Migration (`auth_at_rest.ts`): the first open with an encryption key encrypts every plaintext
 * auth folder, writes the key check and seals the webhook secrets in the metadata.
 *
 * Child: `deno run migration_workload.ts <root>`; says `{op:"opened"}` once the store is open
 * (the migration done) and `{op:"closed"}`. Before `opened`, a crash may leave any mix of
 * plaintext and encrypted files, which the next open must finish; after it, everything on disk
 * is encrypted.
 *
 * A later migration (say, from the file store to PostgreSQL) is one more file like this: a child
 * that migrates and acknowledges, and a `recover` that opens the target and checks every file.
 */
import { singleOwnerFence } from "../../../../src/domain/fence.ts";
import { join } from "node:path";
import type { SessionId } from "../../../../src/domain/session_id.ts";
import { keyCheckMatches } from "../../../../src/persistence/auth_at_rest.ts";
import {
  createAesGcmCodec,
  isEncryptedAuthFile,
} from "../../../../src/persistence/encrypted_auth_file.ts";
import { FileSessionStore } from "../../../../src/persistence/file_session_store.ts";
import { createValueSealer } from "../../../../src/persistence/sealed_value.ts";
import { sessionRecord, silentLogger } from "../../persistence_fixtures.ts";
import { type CrashTree, filesIn } from "../crash_states.ts";
import { readRootContents } from "../root_contents.ts";
import { type Ack, acknowledge, type CrashWorkload } from "../harness.ts";

const DATA = "data";
const KEY = new Uint8Array(32).fill(7);
const SESSIONS = ["shop-1", "shop-2", "shop-3"];
const FILES = [
  "creds.json",
  ...Array.from({ length: 6 }, (_, i) => `pre-key-${i}.json`),
  "session-1.json",
];
const SECRET = "webhook-secret-0123456789";
const content = (session: string, name: string) =>
  JSON.stringify({ session, name, pad: "p".repeat(300) });

/** Opens with the key and checks every file and the secret; or says why not. */
async function readBack(dataDir: string): Promise<string | null> {
  const codec = await createAesGcmCodec(KEY);
  const store = new FileSessionStore({
    dataDir,
    logger: silentLogger,
    codec,
    sealer: createValueSealer(KEY),
  });
  const report = await store.open();
  try {
    for (const session of SESSIONS) {
      for (const name of FILES) {
        const data = await store.auth(singleOwnerFence(session as SessionId)).read(name);
        if (new TextDecoder().decode(data) !== content(session, name)) {
          return `${session}/${name} does not read back`;
        }
      }
    }
    const secret = report.sessions.find((s) => s.id === "shop-1")?.webhooks?.[0]?.secret;
    if (secret !== SECRET) return `the webhook secret reads back as ${secret}`;
  } finally {
    await store.close();
  }
  return null;
}

/** What is still in plaintext in a tree: auth files, the secret, a missing key check. */
async function plaintextLeft(tree: CrashTree): Promise<string | null> {
  for (const session of SESSIONS) {
    const names = filesIn(tree, `${DATA}/${session}`).filter((path) => !path.includes("/."));
    if (names.length !== FILES.length) return `${session} holds ${names.length} files`;
    for (const path of names) {
      if (!isEncryptedAuthFile(tree.files.get(path)!)) return `${path} is still plaintext`;
    }
  }
  const metadata = new TextDecoder().decode(tree.files.get(`${DATA}/sessions-metadata.json`));
  if (metadata.includes(SECRET)) return "the webhook secret is still plaintext";
  const check = tree.files.get(`${DATA}/.encryption-key-check`);
  if (!check || !(await keyCheckMatches(await createAesGcmCodec(KEY), check))) {
    return "no key check for the key";
  }
  return null;
}

export const migrationWorkload: CrashWorkload = {
  name: "migration to encryption at rest",
  script: new URL(import.meta.url),
  async setup(root) {
    const store = new FileSessionStore({ dataDir: join(root, DATA), logger: silentLogger });
    await store.open();
    for (const session of SESSIONS) {
      await store.create(
        sessionRecord(session, {
          webhooks: session === "shop-1"
            ? [{ url: "http://127.0.0.1:9/hook", secret: SECRET, events: [] }]
            : [],
        }),
      );
      await store.auth(singleOwnerFence(session as SessionId)).write(
        new Map(FILES.map((name) => [name, new TextEncoder().encode(content(session, name))])),
      );
    }
    await store.close();
  },
  args: (root) => [root],
  minAcks: 2,
  promised: (_ack: Ack, tree: CrashTree) => plaintextLeft(tree),
  async recover(root) {
    const dataDir = join(root, DATA);
    const problem = await readBack(dataDir);
    if (problem) return problem;
    // The open that just ran finished any migration a crash cut short.
    const after = await plaintextLeft({ ...(await readRootContents(root)), name: "" });
    return after && `after reopening: ${after}`;
  },
};

if (import.meta.main) {
  const store = new FileSessionStore({
    dataDir: join(Deno.args[0], DATA),
    logger: silentLogger,
    codec: await createAesGcmCodec(KEY),
    sealer: createValueSealer(KEY),
  });
  await store.open();
  acknowledge({ op: "opened" });
  await store.close();
  acknowledge({ op: "closed" });
}
