/**
 * The auth journal (`auth_folder.ts`, `auth_journal.ts`): open replays a journal a crash left
 * and sweeps leftovers; then concurrent auth writes (append + fdatasync), background applies,
 * checkpoints by size and on flush, a session folder deleted and written again, and close.
 *
 * Child: `deno run journal_workload.ts <root>`. It says:
 * - `{op:"opened"}` once the store is open (the left journal replayed);
 * - `{op:"write",session,seq,names}` once files `names` of `session` hold `{"seq":seq,…}`;
 * - `{op:"deleting",session}` / `{op:"deleted",session,seq}` around a folder's deletion;
 * - `{op:"flushing"}` / `{op:"flushed"}` around `flush()`: every write acknowledged before
 *   `flushing` is then in the plain files, whatever the journal holds;
 * - `{op:"closed"}`.
 */
import { singleOwnerFence } from "../../../../src/domain/fence.ts";
import { join } from "node:path";
import type { SessionId } from "../../../../src/domain/session_id.ts";
import {
  decodeJournalRecords,
  encodeJournalRecord,
} from "../../../../src/persistence/auth_journal_record.ts";
import { FileSessionStore } from "../../../../src/persistence/file_session_store.ts";
import { silentLogger } from "../../persistence_fixtures.ts";
import { type CrashTree, filesIn } from "../crash_states.ts";
import { type Ack, acknowledge, type CrashWorkload } from "../harness.ts";

const DATA = "data";
const WRITTEN = ["a-0", "a-1", "a-2"];
const DELETED = "a-del";
/** The folder a crash left with a journal; what the journal holds is acknowledged. */
const REPLAYED = "replayed";
const encoder = new TextEncoder();
const body = (seq: number, size: number) =>
  encoder.encode(JSON.stringify({ seq, pad: "x".repeat(size) }));
const seqOf = (data: Uint8Array | null | undefined): number | null => {
  if (!data) return null;
  try {
    return JSON.parse(new TextDecoder().decode(data)).seq;
  } catch {
    return -1; // torn or empty: older than anything acknowledged
  }
};

/** What the acknowledgements promise: per "session/name", the least seq; per session, deletes. */
interface Expected {
  files: Map<string, number>;
  /** The seq of each session's last acknowledged delete (its older files must not come back). */
  deleted: Map<string, number>;
  /** Sessions whose delete has started, unacknowledged: their files may or may not be there. */
  deleting: Set<string>;
  /** Writes acknowledged before the last acknowledged flush started: in the plain files. */
  flushed: Map<string, number>;
}

function expected(acks: readonly Ack[]): Expected {
  const result: Expected = {
    files: new Map([[`${REPLAYED}/creds.json`, 1000], [`${REPLAYED}/pre-key-9.json`, 1000]]),
    deleted: new Map(),
    deleting: new Set(),
    flushed: new Map(),
  };
  let beforeFlush = new Map<string, number>();
  for (const { value } of acks) {
    const session = value.session as string;
    if (value.op === "write") {
      for (const name of value.names as string[]) {
        const key = `${session}/${name}`;
        result.files.set(key, Math.max(result.files.get(key) ?? 0, value.seq as number));
      }
    } else if (value.op === "deleting") result.deleting.add(session);
    else if (value.op === "deleted") {
      result.deleting.delete(session);
      result.deleted.set(session, value.seq as number);
      for (const key of result.files.keys()) {
        if (key.startsWith(`${session}/`)) result.files.delete(key);
      }
    } else if (value.op === "flushing") beforeFlush = new Map(result.files);
    else if (value.op === "flushed") result.flushed = beforeFlush;
  }
  return result;
}

/** The first broken promise, reading each "session/name" through `read`, or `null`. */
function broken(
  want: Expected,
  read: (key: string) => Uint8Array | null | undefined,
  names: (session: string) => string[],
  plain: (key: string) => Uint8Array | null | undefined,
): string | null {
  for (const [key, seq] of want.files) {
    const session = key.slice(0, key.indexOf("/"));
    if (want.deleting.has(session)) continue;
    const found = seqOf(read(key));
    if (found === null || found < seq) return `${key} lost write ${seq} (holds ${found})`;
  }
  for (const [key, seq] of want.flushed) {
    const session = key.slice(0, key.indexOf("/"));
    if (want.deleting.has(session) || want.deleted.has(session)) continue;
    const found = seqOf(plain(key));
    if (found === null || found < seq) {
      return `${key} is not in the plain files after a flush (write ${seq}, holds ${found})`;
    }
  }
  for (const [session, seq] of want.deleted) {
    if (want.deleting.has(session)) continue;
    for (const name of names(session)) {
      const found = seqOf(read(`${session}/${name}`));
      if (found !== null && found <= seq) return `${session}/${name} came back after its delete`;
    }
  }
  return null;
}

/** Each file of a session in a crash tree as the store would see it: the journal over the files. */
function journaledView(tree: CrashTree, session: string): Map<string, Uint8Array | null> {
  const folder = `${DATA}/${session}`;
  const view = new Map<string, Uint8Array | null>();
  for (const path of filesIn(tree, folder)) {
    const name = path.slice(folder.length + 1);
    if (!name.startsWith(".")) view.set(name, tree.files.get(path)!);
  }
  const journal = tree.files.get(`${folder}/.journal`);
  if (journal) {
    for (const record of decodeJournalRecords(journal).records) {
      for (const [name, data] of record) view.set(name, data);
    }
  }
  return view;
}

export const journalWorkload: CrashWorkload = {
  name: "auth journal",
  script: new URL(import.meta.url),
  async setup(root) {
    const folder = join(root, DATA, REPLAYED);
    await Deno.mkdir(folder, { recursive: true });
    await Deno.writeFile(join(folder, "creds.json"), body(1, 10));
    await Deno.writeFile(
      join(folder, ".journal"),
      encodeJournalRecord(
        new Map([["creds.json", body(1000, 100)], ["pre-key-9.json", body(1000, 50)]]),
      ),
    );
    // Leftovers of interrupted writes and deletions, which open sweeps.
    await Deno.writeTextFile(join(root, DATA, ".tmp-0000"), "half a metadata file");
    await Deno.mkdir(join(root, DATA, ".trash-0000"));
    await Deno.writeFile(join(root, DATA, ".trash-0000", "creds.json"), body(1, 10));
    await Deno.writeTextFile(join(folder, ".tmp-1111"), "half an auth file");
  },
  args: (root) => [root],
  minAcks: 150,
  promised(ack, tree, earlier) {
    const views = new Map<string, Map<string, Uint8Array | null>>();
    const view = (session: string) => {
      if (!views.has(session)) views.set(session, journaledView(tree, session));
      return views.get(session)!;
    };
    const split = (
      key: string,
    ) => [key.slice(0, key.indexOf("/")), key.slice(key.indexOf("/") + 1)];
    return broken(
      expected([...earlier, ack]),
      (key) => {
        const [session, name] = split(key);
        return view(session).get(name);
      },
      (session) => [...view(session)].filter(([, data]) => data !== null).map(([name]) => name),
      (key) => tree.files.get(`${DATA}/${key}`),
    );
  },
  async recover(root, acks) {
    const dataDir = join(root, DATA);
    const store = new FileSessionStore({ dataDir, logger: silentLogger });
    await store.open();
    const leftovers = (await Array.fromAsync(Deno.readDir(dataDir)))
      .filter((entry) => entry.name.startsWith(".tmp-") || entry.name.startsWith(".trash-"));
    const want = expected(acks);
    const contents = new Map<string, Uint8Array | undefined>();
    const listed = new Map<string, string[]>();
    for (const session of [REPLAYED, ...WRITTEN, DELETED]) {
      const auth = store.auth(singleOwnerFence(session as SessionId));
      listed.set(session, await auth.list());
      for (const name of listed.get(session)!) {
        contents.set(`${session}/${name}`, await auth.read(name));
      }
    }
    await store.close();
    if (leftovers.length > 0) return `open left ${leftovers.map((e) => e.name)}`;
    const read = (key: string) => contents.get(key);
    const problem = broken(want, read, (session) => listed.get(session) ?? [], read);
    if (problem) return problem;
    // close() checkpointed: the plain files alone hold everything, and no journal is left.
    for (const session of [REPLAYED, ...WRITTEN, DELETED]) {
      const journal = await Deno.lstat(join(dataDir, session, ".journal")).catch(() => null);
      if (journal) return `${session}/.journal left after close()`;
    }
    const plain = (key: string) => Deno.readFileSync(join(dataDir, key));
    return broken(
      want,
      (key) => contents.has(key) ? plain(key) : undefined,
      (session) => listed.get(session) ?? [],
      read,
    );
  },
};

if (import.meta.main) {
  const store = new FileSessionStore({
    dataDir: join(Deno.args[0], DATA),
    logger: silentLogger,
    // Small, so that checkpoints by size run while writes go on.
    journalCheckpointBytes: 24 * 1024,
    journalIdleMs: 3_600_000,
  });
  await store.open();
  acknowledge({ op: "opened" });
  let seq = 0;
  const write = async (session: string, names: string[]) => {
    const n = ++seq;
    const data = body(n, 200 + (n * 397) % 1500);
    await store.auth(singleOwnerFence(session as SessionId)).write(
      new Map(names.map((name) => [name, data])),
    );
    acknowledge({ op: "write", session, seq: n, names });
  };
  const writer = async (session: string, offset: number) => {
    for (let i = offset; i < offset + 25; i++) {
      await write(session, ["creds.json", `pre-key-${i % 5}.json`, `session-${i % 3}.json`]);
    }
  };
  const deleter = async () => {
    for (let i = 0; i < 12; i++) {
      if (i % 4 === 3) {
        acknowledge({ op: "deleting", session: DELETED });
        const n = ++seq;
        await store.auth(singleOwnerFence(DELETED as SessionId)).delete();
        acknowledge({ op: "deleted", session: DELETED, seq: n });
      } else await write(DELETED, ["creds.json", `pre-key-${i}.json`]);
    }
  };
  const flusher = async () => {
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 40));
      acknowledge({ op: "flushing" });
      await store.flush();
      acknowledge({ op: "flushed" });
    }
  };
  await Promise.all([
    ...WRITTEN.flatMap((id) => [writer(id, 0), writer(id, 100)]),
    deleter(),
    flusher(),
  ]);
  acknowledge({ op: "flushing" });
  await store.close();
  acknowledge({ op: "flushed" });
  acknowledge({ op: "closed" });
}
