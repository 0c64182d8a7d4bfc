/**
 * The webhook outbox (`file_webhook_outbox.ts` on `jsonl_log.ts`): open repairs a torn log a
 * crash left, then concurrent appends (group-committed), removals, dead letters, requeues and
 * discards, with compactions, and close.
 *
 * A second data directory gets its outbox folder created by the child, as on a first start.
 *
 * Child: `deno run outbox_workload.ts <root>`. It says `{op:"opened"}`; `{op:"appended",ids}`;
 * `{op:"attempted",id,attempts}` once a failed-attempt count is recorded;
 * `{op:"removing",ids}` / `{op:"removed",ids}`; `{op:"dying",id}` / `{op:"dead",id}` around a
 * move to the dead letters; `{op:"requeuing",id}` / `{op:"requeued",id}`; `{op:"discarding",id}`
 * / `{op:"discarded",id}`; `{op:"closed"}`. Between the two lines of a pair the entry may be on
 * either side.
 */
import { join } from "node:path";
import type { NewOutboxEntry } from "../../../../src/domain/webhook_outbox.ts";
import { FileWebhookOutbox } from "../../../../src/persistence/file_webhook_outbox.ts";
import { silentLogger } from "../../persistence_fixtures.ts";
import type { CrashTree } from "../crash_states.ts";
import { readRootContents } from "../root_contents.ts";
import { type Ack, acknowledge, type CrashWorkload } from "../harness.ts";

const DATA = "data";
/** A data directory whose outbox folder the child creates. */
const FRESH = "fresh";
const DATA_DIRS = [DATA, FRESH];
/** Left pending by the crash before this run, with an invalid line and a torn one after it. */
const LEFT = "dlv-left";
const LEFT_LOG = `${
  JSON.stringify({ op: "add", entry: { ...entry(LEFT), seq: 1, generation: 0 } })
}\n{"op":"bogus"}\n{"op":"add","ent`;

type Where = "pending" | "dead" | "gone" | "moving";
/** Where an entry is, and the failed attempts recorded for it. */
type Found = Map<string, { at: "pending" | "dead"; attempts: number }>;

function entry(id: string): NewOutboxEntry {
  return {
    id,
    eventId: `evt-${id}`,
    eventType: "session.status",
    sessionId: "shop-1",
    endpoint: { scope: "global", url: "http://127.0.0.1:9/hook", secret: "s".repeat(16) },
    body: JSON.stringify({ id, pad: "x".repeat(120) }),
    createdAt: "2025-01-01T00:00:00.000Z",
  };
}

/** Where each id must be, after the acknowledgements so far. */
function expected(acks: readonly Ack[]): Map<string, Where> {
  const where = new Map<string, Where>([[LEFT, "pending"]]);
  for (const { value } of acks) {
    const ids = (value.ids as string[] | undefined) ?? [value.id as string];
    const to: Where | null = value.op === "appended" || value.op === "requeued"
      ? "pending"
      : value.op === "removed" || value.op === "discarded"
      ? "gone"
      : value.op === "dead"
      ? "dead"
      : ["removing", "discarding", "dying", "requeuing"].includes(value.op as string)
      ? "moving"
      : null;
    if (to) { for (const id of ids) where.set(id, to); }
  }
  return where;
}

function broken(found: Found, acks: readonly Ack[]): string | null {
  const where = expected(acks);
  for (const [id, want] of where) {
    if (want === "moving") continue;
    const at = found.get(id)?.at ?? "gone";
    if (at !== want) return `${id} should be ${want} but is ${at}`;
  }
  for (const { value } of acks) {
    if (value.op !== "attempted" || where.get(value.id as string) !== "pending") continue;
    const attempts = found.get(value.id as string)?.attempts ?? 0;
    if (attempts < (value.attempts as number)) {
      return `${value.id} lost its failed attempt ${value.attempts} (holds ${attempts})`;
    }
  }
  return null;
}

/** Whether the invalid line is gone: neither in the log any more, nor in a copy kept aside. */
function invalidLineLost(tree: CrashTree, dir: string): string | null {
  const log = new TextDecoder().decode(tree.files.get(`${dir}/pending.jsonl`));
  if (log.includes('{"op":"bogus"}')) return null;
  const copies = [...tree.files].filter(([path]) =>
    path.startsWith(`${dir}/pending.jsonl.corrupt-`)
  );
  const kept = copies.some(([, data]) => new TextDecoder().decode(data) === LEFT_LOG);
  return kept ? null : "the log's invalid line is neither in it nor in a copy kept aside";
}

/** Where each entry is in a crash tree, read as `open()` reads the two logs. */
function outboxState(tree: CrashTree): Found {
  const found: Found = new Map();
  for (const dataDir of DATA_DIRS) {
    for (const [id, where] of logState(tree, `${dataDir}/.webhook-outbox`)) found.set(id, where);
  }
  return found;
}

function logState(tree: CrashTree, dir: string): Found {
  const lines = (name: string) => {
    const data = tree.files.get(`${dir}/${name}`);
    if (!data) return [];
    // The part after the last newline is a torn line; lines that do not parse are skipped.
    return new TextDecoder().decode(data).split("\n").slice(0, -1).flatMap((line) => {
      try {
        return [JSON.parse(line)];
      } catch {
        return [];
      }
    });
  };
  const pending = new Map<string, { generation: number; attempts: number }>();
  for (const record of lines("pending.jsonl")) {
    if (record.op === "add") {
      pending.set(record.entry.id, {
        generation: record.entry.generation,
        attempts: record.entry.attempts ?? 0,
      });
    } else if (record.op === "attempts") {
      const entry = pending.get(record.id);
      if (entry) entry.attempts = record.attempts;
    } else pending.delete(record.id);
  }
  const dead = new Map<string, number>();
  for (const record of lines("dead-letters.jsonl")) {
    if (record.op === "dead") dead.set(record.letter.entry.id, record.letter.entry.generation);
    else dead.delete(record.id);
  }
  const found: Found = new Map();
  for (const [id] of dead) found.set(id, { at: "dead", attempts: 0 });
  for (const [id, { generation, attempts }] of pending) {
    if (!dead.has(id) || generation > dead.get(id)!) found.set(id, { at: "pending", attempts });
  }
  return found;
}

export const outboxWorkload: CrashWorkload = {
  name: "webhook outbox",
  script: new URL(import.meta.url),
  async setup(root) {
    const outbox = join(root, DATA, ".webhook-outbox");
    await Deno.mkdir(outbox, { recursive: true });
    await Deno.mkdir(join(root, FRESH));
    await Deno.writeTextFile(join(outbox, "pending.jsonl"), LEFT_LOG);
  },
  args: (root) => [root],
  minAcks: 60,
  promised: (ack, tree, earlier) =>
    broken(outboxState(tree), [...earlier, ack]) ?? invalidLineLost(tree, "data/.webhook-outbox"),
  async recover(root, acks) {
    const found: Found = new Map();
    for (const dataDir of DATA_DIRS) {
      const outbox = new FileWebhookOutbox({ dataDir: join(root, dataDir), logger: silentLogger });
      await outbox.open();
      for (const entry of outbox.pending()) {
        found.set(entry.id, { at: "pending", attempts: entry.attempts });
      }
      for (const letter of await outbox.deadLetters()) {
        if (found.has(letter.entry.id)) return `${letter.entry.id} is both pending and dead`;
        found.set(letter.entry.id, { at: "dead", attempts: 0 });
      }
      await outbox.close();
    }
    const tree = await readRootContents(root);
    return broken(found, acks) ?? invalidLineLost({ ...tree, name: "" }, `${DATA}/.webhook-outbox`);
  },
};

if (import.meta.main) {
  const outbox = new FileWebhookOutbox({
    dataDir: join(Deno.args[0], DATA),
    logger: silentLogger,
    compactAfterBytes: 4096,
  });
  await outbox.open();
  acknowledge({ op: "opened" });
  const appended: string[] = [];
  const producer = async (worker: number) => {
    for (let i = 0; i < 10; i++) {
      const ids = [`dlv-${worker}-${i}-a`, `dlv-${worker}-${i}-b`];
      await outbox.append(ids.map(entry));
      acknowledge({ op: "appended", ids });
      appended.push(...ids);
    }
  };
  const deliverer = async () => {
    for (let round = 0; round < 30; round++) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      const ids = appended.splice(0, 3);
      if (ids.length === 0) continue;
      const [first, ...rest] = ids;
      if (round % 3 === 0) {
        const [letter] = outbox.pending().filter((e) => e.id === first);
        acknowledge({ op: "dying", id: first });
        await outbox.deadLetter(letter, { attempts: 3, lastError: "HTTP 500" });
        acknowledge({ op: "dead", id: first });
        if (round % 2 === 0) {
          acknowledge({ op: "requeuing", id: first });
          await outbox.requeue(first);
          acknowledge({ op: "requeued", id: first });
        } else {
          acknowledge({ op: "discarding", id: first });
          await outbox.discard(first);
          acknowledge({ op: "discarded", id: first });
        }
      } else rest.unshift(first);
      const failing = rest.pop();
      if (failing) {
        await outbox.recordFailedAttempts(failing, round + 1);
        acknowledge({ op: "attempted", id: failing, attempts: round + 1 });
      }
      acknowledge({ op: "removing", ids: rest });
      await outbox.remove(rest);
      acknowledge({ op: "removed", ids: rest });
    }
  };
  await Promise.all([producer(0), producer(1), producer(2), deliverer()]);
  await outbox.close();
  acknowledge({ op: "closed" });

  // A first start: the outbox folder does not exist yet.
  const fresh = new FileWebhookOutbox({ dataDir: join(Deno.args[0], FRESH), logger: silentLogger });
  await fresh.open();
  await fresh.append([entry("dlv-fresh")]);
  acknowledge({ op: "appended", ids: ["dlv-fresh"] });
  await fresh.close();
}
