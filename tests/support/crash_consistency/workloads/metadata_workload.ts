/**
 * Session metadata (`atomic_write.ts` under `FileSessionStore.save`/`remove`): the first open
 * creates the data directory, then concurrent saves (group-committed) and removals. A second
 * data directory holds an unreadable metadata file, which open moves aside and rebuilds.
 *
 * Child: `deno run metadata_workload.ts <root>`; acknowledges `{op:"save",id,seq}` once a record
 * named `n<seq>` is saved, and says `{op:"removing",id}` before a removal and `{op:"remove",id}`
 * once it resolved; `{op:"repaired"}` once the second directory is open.
 */
import { join } from "node:path";
import { SessionRecordSchema } from "../../../../src/domain/session.ts";
import type { SessionId } from "../../../../src/domain/session_id.ts";
import { SessionAlreadyExistsError } from "../../../../src/domain/errors.ts";
import { FileSessionStore } from "../../../../src/persistence/file_session_store.ts";
import { parseMetadata } from "../../../../src/persistence/metadata_file.ts";
import { silentLogger } from "../../persistence_fixtures.ts";
import type { CrashTree } from "../crash_states.ts";
import { readRootContents } from "../root_contents.ts";
import { type Ack, acknowledge, type CrashWorkload } from "../harness.ts";

const DATA = "data";
const METADATA = `${DATA}/sessions-metadata.json`;
/** A data directory whose metadata file is unreadable, with one session folder. */
const REPAIR = "repair";
const CORRUPT = '{"shop-9": {"id": "shop-9", "name": "cut short';

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

/** Whether the unreadable metadata file is lost: neither in place nor set aside. */
function corruptLost(files: ReadonlyMap<string, Uint8Array>): string | null {
  const kept = [...files].some(([path, data]) =>
    path.startsWith(`${REPAIR}/sessions-metadata.json`) &&
    new TextDecoder().decode(data) === CORRUPT
  );
  return kept ? null : "the unreadable metadata file is lost, neither in place nor set aside";
}

export const metadataWorkload: CrashWorkload = {
  name: "metadata",
  script: new URL(import.meta.url),
  async setup(root) {
    await Deno.mkdir(join(root, REPAIR, "shop-9"), { recursive: true });
    await Deno.writeTextFile(join(root, REPAIR, "sessions-metadata.json"), CORRUPT);
    await Deno.writeTextFile(join(root, REPAIR, "shop-9", "creds.json"), "{}");
  },
  args: (root) => [root],
  minAcks: 40,
  promised(ack: Ack, tree: CrashTree, earlier: readonly Ack[]) {
    const lost = corruptLost(tree.files);
    if (lost) return lost;
    if ([...earlier, ack].some((a) => a.value.op === "repaired")) {
      const rebuilt = parseMetadata(
        tree.files.get(`${REPAIR}/sessions-metadata.json`) ?? new Uint8Array(),
      );
      if (!rebuilt.ok || !rebuilt.records.some((r) => r.id === "shop-9")) {
        return "the repaired metadata lacks shop-9";
      }
    }
    if (!earlier.some((a) => a.value.op === "save") && ack.value.op !== "save") return null;
    const bytes = tree.files.get(METADATA);
    if (!bytes) return `${METADATA} is missing`;
    const parsed = parseMetadata(bytes);
    if (!parsed.ok) return `${METADATA} is unreadable (${parsed.reason})`;
    return broken(new Map(parsed.records.map((r) => [r.id, r.name])), [...earlier, ack]);
  },
  async recover(root: string, acks: readonly Ack[]) {
    const repair = new FileSessionStore({ dataDir: join(root, REPAIR), logger: silentLogger });
    const repaired = await repair.open();
    // Rebuilt, or (metadata missing rather than unreadable) adopted by the manager from its folder.
    const adoptable = await repair.listAuth();
    await repair.close();
    if (
      !repaired.sessions.some((r) => r.id === "shop-9") &&
      !adoptable.includes("shop-9" as SessionId)
    ) {
      return "shop-9 is lost";
    }
    const lost = corruptLost((await readRootContents(root)).files);
    if (lost) return lost;
    const store = new FileSessionStore({ dataDir: join(root, DATA), logger: silentLogger });
    const report = await store.open();
    await store.close();
    if (report.corruptMetadata) return `metadata set aside: ${report.corruptMetadata.reason}`;
    if (report.quarantined.length > 0) return `entries quarantined: ${report.quarantined}`;
    return broken(new Map(report.sessions.map((r) => [r.id, r.name])), acks);
  },
};

if (import.meta.main) {
  const repair = new FileSessionStore({
    dataDir: join(Deno.args[0], REPAIR),
    logger: silentLogger,
  });
  await repair.open();
  acknowledge({ op: "repaired" });
  await repair.close();
  const store = new FileSessionStore({ dataDir: join(Deno.args[0], DATA), logger: silentLogger });
  await store.open();
  let seq = 0;
  const record = (id: string, name: string) =>
    SessionRecordSchema.parse({ id, name, createdAt: "2025-01-01T00:00:00.000Z" });
  /** Creates the record named `n<seq>`, or raises its name to it (a change that commutes). */
  const save = async (id: string, n: number) => {
    try {
      await store.create(record(id, `n${n}`));
    } catch (error) {
      if (!(error instanceof SessionAlreadyExistsError)) throw error;
      await store.updateSpec(id as SessionId, (current) => {
        const seen = Number(/^n(\d+)$/.exec(current.name ?? "")?.[1] ?? 0);
        return { name: `n${Math.max(seen, n)}` };
      });
    }
  };
  const saver = async (worker: number) => {
    for (let i = 0; i < 12; i++) {
      const id = `s${(worker * 3 + i) % 8}`;
      const n = ++seq;
      await save(id, n);
      acknowledge({ op: "save", id, seq: n });
    }
  };
  const remover = async () => {
    for (let i = 0; i < 3; i++) {
      const id = `gone-${i}`;
      const n = ++seq;
      await save(id, n);
      acknowledge({ op: "save", id, seq: n });
      acknowledge({ op: "removing", id });
      await store.remove(id as SessionId);
      acknowledge({ op: "remove", id });
    }
  };
  await Promise.all([saver(0), saver(1), saver(2), saver(3), remover()]);
  await store.close();
}
