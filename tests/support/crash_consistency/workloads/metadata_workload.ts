/**
 * Session metadata (`atomic_write.ts` under `FileSessionStore.save`/`remove`): the first open
 * creates the data directory, then concurrent saves (group-committed) and removals.
 *
 * Child: `deno run metadata_workload.ts <root>`; acknowledges `{op:"save",id,seq}` once a record
 * named `n<seq>` is saved, and says `{op:"removing",id}` before a removal and `{op:"remove",id}`
 * once it resolved.
 */
import { join } from "node:path";
import { SessionRecordSchema } from "../../../../src/domain/session.ts";
import type { SessionId } from "../../../../src/domain/session_id.ts";
import { FileSessionStore } from "../../../../src/persistence/file_session_store.ts";
import { parseMetadata } from "../../../../src/persistence/metadata_file.ts";
import { silentLogger } from "../../persistence_fixtures.ts";
import type { CrashTree } from "../crash_states.ts";
import { type Ack, acknowledge, type CrashWorkload } from "../harness.ts";

const DATA = "data";
const METADATA = `${DATA}/sessions-metadata.json`;

/** What the acknowledgements so far promise: each id's least seq, or that it is (being) removed. */
function expected(acks: readonly Ack[]): Map<string, number | "removing" | "removed"> {
  const wanted = new Map<string, number | "removing" | "removed">();
  for (const { value } of acks) {
    const id = value.id as string;
    const seen = wanted.get(id);
    if (value.op === "save") {
      wanted.set(id, Math.max(typeof seen === "number" ? seen : 0, value.seq as number));
    }
    if (value.op === "removing" || value.op === "remove") {
      wanted.set(id, value.op === "remove" ? "removed" : "removing");
    }
  }
  return wanted;
}

/** The first promise that `names` (id → record name) breaks, or `null`. */
function broken(names: Map<string, string | null>, acks: readonly Ack[]): string | null {
  for (const [id, want] of expected(acks)) {
    const name = names.get(id);
    if (want === "removing") continue;
    if (want === "removed") {
      if (name !== undefined) return `session ${id} is back after its removal`;
      continue;
    }
    const seq = Number(/^n(\d+)$/.exec(name ?? "")?.[1] ?? -1);
    if (seq < want) return `session ${id} lost its save ${want} (holds ${name ?? "nothing"})`;
  }
  return null;
}

export const metadataWorkload: CrashWorkload = {
  name: "metadata",
  script: new URL(import.meta.url),
  setup: () => Promise.resolve(),
  args: (root) => [root],
  minAcks: 40,
  promised(ack: Ack, tree: CrashTree, earlier: readonly Ack[]) {
    const bytes = tree.files.get(METADATA);
    if (!bytes) return `${METADATA} is missing`;
    const parsed = parseMetadata(bytes);
    if (!parsed.ok) return `${METADATA} is unreadable (${parsed.reason})`;
    return broken(new Map(parsed.records.map((r) => [r.id, r.name])), [...earlier, ack]);
  },
  async recover(root: string, acks: readonly Ack[]) {
    const store = new FileSessionStore({ dataDir: join(root, DATA), logger: silentLogger });
    const report = await store.open();
    await store.close();
    if (report.corruptMetadata) return `metadata set aside: ${report.corruptMetadata.reason}`;
    if (report.quarantined.length > 0) return `entries quarantined: ${report.quarantined}`;
    return broken(new Map(report.sessions.map((r) => [r.id, r.name])), acks);
  },
};

if (import.meta.main) {
  const store = new FileSessionStore({ dataDir: join(Deno.args[0], DATA), logger: silentLogger });
  await store.open();
  let seq = 0;
  const record = (id: string, name: string) =>
    SessionRecordSchema.parse({ id, name, createdAt: "2025-01-01T00:00:00.000Z" });
  const saver = async (worker: number) => {
    for (let i = 0; i < 12; i++) {
      const id = `s${(worker * 3 + i) % 8}`;
      const n = ++seq;
      await store.save(record(id, `n${n}`));
      acknowledge({ op: "save", id, seq: n });
    }
  };
  const remover = async () => {
    for (let i = 0; i < 3; i++) {
      const id = `gone-${i}`;
      const n = ++seq;
      await store.save(record(id, `n${n}`));
      acknowledge({ op: "save", id, seq: n });
      acknowledge({ op: "removing", id });
      await store.remove(id as SessionId);
      acknowledge({ op: "remove", id });
    }
  };
  await Promise.all([saver(0), saver(1), saver(2), saver(3), remover()]);
  await store.close();
}
