/**
 * The message store (`file_message_store.ts`, one `jsonl_log.ts` per session): a first open
 * creating `.message-store/`, each session's folder created on its first write, concurrent puts
 * and patches (group-committed, compacted), an idempotency record claimed and completed, and a
 * session's messages deleted.
 *
 * Child: `deno run message_store_workload.ts <root>`. It says `{op:"put",session,id}`;
 * `{op:"patched",session,id}` once a message is marked read; `{op:"claimed",key}` /
 * `{op:"completed",key}`; `{op:"deleting",session}` / `{op:"deleted",session}`.
 */
import { join } from "node:path";
import { singleOwnerFence } from "../../../../src/domain/fence.ts";
import type { SessionId } from "../../../../src/domain/session_id.ts";
import { FileMessageStore } from "../../../../src/persistence/message_store/file_message_store.ts";
import { storedText } from "../../message_store_contract.ts";
import { silentLogger } from "../../persistence_fixtures.ts";
import { materialize } from "../crash_states.ts";
import { type Ack, acknowledge, type CrashWorkload } from "../harness.ts";

const DATA = "data";
const SESSIONS = ["shop-1", "shop-2"];
const DELETED = "shop-gone";
const T0 = Date.UTC(2030, 0, 1);
const retention = { maxAgeMs: 3650 * 86_400_000, maxBytesPerSession: 64 * 1024 * 1024 };
const fence = (session: string) => singleOwnerFence(session as SessionId);

function openStore(dataDir: string): FileMessageStore {
  return new FileMessageStore({
    dataDir,
    logger: silentLogger,
    retention,
    clock: () => new Date(T0),
  });
}

/** Reopens the store on `dataDir` and checks what the acknowledgements promise. */
async function broken(dataDir: string, acks: readonly Ack[]): Promise<string | null> {
  const store = openStore(dataDir);
  await store.open();
  try {
    const deleting = new Set<string>();
    const deleted = new Set<string>();
    for (const { value } of acks) {
      const session = value.session as string;
      if (value.op === "deleting") deleting.add(session);
      if (value.op === "deleted") deleted.add(session);
    }
    for (const { value } of acks) {
      const session = value.session as string;
      if (value.op !== "put" && value.op !== "patched") continue;
      if (deleting.has(session)) continue;
      const message = await store.get(session as SessionId, value.id as string);
      if (!message) return `${session}/${value.id} is lost`;
      if (value.op === "patched" && !message.read) return `${session}/${value.id} lost its read`;
    }
    for (const session of deleted) {
      const page = await store.chats(session as SessionId, { limit: 10 });
      if (page.items.length > 0) return `the messages of ${session} came back after the delete`;
    }
    const claimed = acks.filter((a) => a.value.op === "claimed").map((a) => a.value.key);
    const completed = new Set(
      acks.filter((a) => a.value.op === "completed").map((a) => a.value.key),
    );
    for (const key of claimed) {
      const record = await store.idempotency.claim(fence("shop-1"), {
        key: key as string,
        requestHash: "h",
        messageId: "m",
        createdAt: T0,
        expiresAfterMs: 86_400_000,
      });
      if (!record) return `idempotency key ${key} is lost`;
      if (completed.has(key) && !record.response) return `idempotency key ${key} lost its answer`;
    }
    return null;
  } finally {
    await store.close();
  }
}

export const messageStoreWorkload: CrashWorkload = {
  name: "message store",
  script: new URL(import.meta.url),
  async setup(root) {
    await Deno.mkdir(join(root, DATA));
  },
  args: (root) => [root],
  minAcks: 60,
  async promised(ack, tree, earlier) {
    const dir = await Deno.makeTempDir({ prefix: "wa-gateway-crash-messages-" });
    try {
      await materialize(tree, dir);
      return await broken(join(dir, DATA), [...earlier, ack]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
  recover: (root, acks) => broken(join(root, DATA), acks),
};

if (import.meta.main) {
  const store = openStore(join(Deno.args[0], DATA));
  await store.open();
  let n = 0;
  const putter = async (session: string, worker: number) => {
    for (let i = 0; i < 12; i++) {
      const id = `m-${worker}-${i}`;
      await store.put(fence(session), [storedText(id, T0 + ++n * 1000, { bytes: 300 })]);
      acknowledge({ op: "put", session, id });
      if (i % 3 === 2) {
        await store.patch(fence(session), [{ id, read: true }]);
        acknowledge({ op: "patched", session, id });
      }
    }
  };
  const deleter = async () => {
    await store.put(fence(DELETED), [storedText("gone-1", T0, { bytes: 300 })]);
    acknowledge({ op: "put", session: DELETED, id: "gone-1" });
    acknowledge({ op: "deleting", session: DELETED });
    await store.deleteSession(fence(DELETED));
    acknowledge({ op: "deleted", session: DELETED });
  };
  const idempotent = async () => {
    const key = "idem-1";
    await store.idempotency.claim(fence("shop-1"), {
      key,
      requestHash: "h",
      messageId: "m",
      createdAt: T0,
      expiresAfterMs: 86_400_000,
    });
    acknowledge({ op: "claimed", key });
    await store.idempotency.complete(fence("shop-1"), key, { status: 201, body: { id: "m" } });
    acknowledge({ op: "completed", key });
  };
  await Promise.all([
    ...SESSIONS.flatMap((session) => [putter(session, 0), putter(session, 1)]),
    deleter(),
    idempotent(),
  ]);
  await store.close();
}
