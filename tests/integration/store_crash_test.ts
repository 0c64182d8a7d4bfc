import assert from "node:assert/strict";
import { FileSessionStore } from "../../src/persistence/file_session_store.ts";
import { parseMetadata } from "../../src/persistence/metadata_file.ts";
import { spawnDenoScript } from "../support/child_process.ts";
import { silentLogger, withTempDir } from "../support/persistence_fixtures.ts";
import { AUTH_SESSIONS } from "../support/store_crash_child.ts";

const TRIALS = 24;

/** What the child acknowledged: the highest durable seq per session id, and per auth file. */
interface Acknowledged {
  meta: Map<string, number>;
  /** "<sessionId>/<file>" -> seq, for files written since the folder's last acknowledged delete. */
  auth: Map<string, number>;
  /** The seq of each auth folder's last acknowledged delete. */
  deleted: Map<string, number>;
  /** Auth folders whose delete had started but was not acknowledged: it may or may not stick. */
  deleting: Set<string>;
  lines: number;
}

function parseAcks(output: string): Acknowledged {
  const acks: Acknowledged = {
    meta: new Map(),
    auth: new Map(),
    deleted: new Map(),
    deleting: new Set(),
    lines: 0,
  };
  const raise = (map: Map<string, number>, key: string, seq: number) =>
    map.set(key, Math.max(map.get(key) ?? 0, seq));
  // A line cut by the kill has no newline: only whole lines count. Lines come in the order the
  // writes were acknowledged.
  for (const line of output.split("\n").slice(0, -1)) {
    const [kind, id, seqText, names] = line.split(" ");
    const seq = Number(seqText);
    if (kind === "meta") raise(acks.meta, id, seq);
    if (kind === "auth") {
      for (const name of names.split(",")) raise(acks.auth, `${id}/${name}`, seq);
    }
    if (kind === "deleting") acks.deleting.add(id);
    if (kind === "deleted") {
      acks.deleting.delete(id);
      for (const key of acks.auth.keys()) if (key.startsWith(`${id}/`)) acks.auth.delete(key);
      acks.deleted.set(id, seq);
    }
    if (kind === "meta" || kind === "auth" || kind === "deleted") acks.lines++;
  }
  return acks;
}

/** Runs the child for one trial and SIGKILLs it at a random moment; returns its stdout. */
async function runAndKill(dataDir: string, trial: number): Promise<string> {
  const child = spawnDenoScript("store_crash_child.ts", dataDir, [dataDir, String(trial)]).spawn();
  const decoder = new TextDecoder();
  let output = "";
  const ready = Promise.withResolvers<void>();
  const reading = (async () => {
    for await (const chunk of child.stdout) {
      output += decoder.decode(chunk, { stream: true });
      if (output.startsWith("ready\n")) ready.resolve();
    }
    ready.resolve();
  })();
  const stderr = new Response(child.stderr).text();
  // Most kills land while writes stream; every fourth lands at a random point of start-up.
  if (trial % 4 === 3) {
    await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 250));
  } else {
    await ready.promise;
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 300));
  }
  try {
    child.kill("SIGKILL");
  } catch {
    // Already exited: its stderr says why, checked below.
  }
  const status = await child.status;
  await reading;
  assert.equal(status.signal, "SIGKILL", `child exited by itself: ${await stderr}`);
  return output;
}

async function verifyOnDisk(dataDir: string, trial: number, acks: Acknowledged): Promise<void> {
  const metadata = await Deno.readFile(`${dataDir}/sessions-metadata.json`);
  const parsed = parseMetadata(metadata);
  assert.ok(parsed.ok, `trial ${trial}: metadata unreadable: ${!parsed.ok && parsed.reason}`);
  assert.deepEqual(parsed.rejected, [], `trial ${trial}: invalid entries`);
  const names = new Map(parsed.records.map((r) => [r.id as string, r.name]));
  for (const [id, seq] of acks.meta) {
    const match = /^t(\d+)-n(\d+)$/.exec(names.get(id) ?? "");
    assert.ok(match, `trial ${trial}: acknowledged session ${id} missing`);
    assert.equal(Number(match[1]), trial, `trial ${trial}: ${id} holds an older trial`);
    assert.ok(Number(match[2]) >= seq, `trial ${trial}: ${id} lost update ${seq}`);
  }

  for (const sessionId of AUTH_SESSIONS) {
    let files: Deno.DirEntry[];
    try {
      files = await Array.fromAsync(Deno.readDir(`${dataDir}/${sessionId}`));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    const deletedAt = acks.deleted.get(sessionId);
    for (const file of files) {
      // Open replayed the journal, then close checkpointed it: plain files only.
      assert.ok(
        !file.name.startsWith("."),
        `trial ${trial}: ${sessionId}/${file.name} left after a reopen`,
      );
      const text = await Deno.readTextFile(`${dataDir}/${sessionId}/${file.name}`);
      let content: { trial: number; seq: number };
      try {
        content = JSON.parse(text);
      } catch {
        assert.fail(`trial ${trial}: ${sessionId}/${file.name} is not complete JSON`);
      }
      if (deletedAt !== undefined) {
        // Written before the acknowledged delete: the delete did not stick.
        assert.equal(content.trial, trial, `trial ${trial}: ${sessionId}/${file.name} resurrected`);
        assert.ok(content.seq > deletedAt, `trial ${trial}: ${sessionId}/${file.name} resurrected`);
      }
      const acked = acks.auth.get(`${sessionId}/${file.name}`);
      if (acked !== undefined) {
        assert.equal(content.trial, trial, `trial ${trial}: ${sessionId}/${file.name} is stale`);
        assert.ok(content.seq >= acked, `trial ${trial}: ${sessionId}/${file.name} lost ${acked}`);
      }
    }
  }
  for (const key of acks.auth.keys()) {
    // A delete in flight when the kill came removed all of the folder, or none of it.
    const sessionId = key.slice(0, key.indexOf("/"));
    if (acks.deleting.has(sessionId) && !(await hasFiles(`${dataDir}/${sessionId}`))) continue;
    await Deno.lstat(`${dataDir}/${key}`).catch(() =>
      assert.fail(`trial ${trial}: ${key} missing`)
    );
  }
}

async function hasFiles(dir: string): Promise<boolean> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).length > 0;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** How many auth folders the kill left with a non-empty journal. */
async function journalsLeft(dataDir: string): Promise<number> {
  let found = 0;
  for (const sessionId of AUTH_SESSIONS) {
    const info = await Deno.lstat(`${dataDir}/${sessionId}/.journal`).catch(() => null);
    if (info && info.size > 0) found++;
  }
  return found;
}

Deno.test({
  name:
    "after a SIGKILL at any moment and a reopen, every acknowledged write is there, every file " +
    "is whole and no deleted file comes back",
  async fn() {
    await withTempDir(async (dataDir) => {
      let acknowledged = 0;
      let replayed = 0;
      for (let trial = 0; trial < TRIALS; trial++) {
        const acks = parseAcks(await runAndKill(dataDir, trial));
        acknowledged += acks.lines;
        replayed += await journalsLeft(dataDir);

        // The lock died with the child; the store opens cleanly on what it left, replaying the
        // auth journals, and its close leaves the plain files only.
        const store = new FileSessionStore({ dataDir, logger: silentLogger });
        const report = await store.open();
        await store.close();
        assert.equal(report.corruptMetadata, null, `trial ${trial}`);
        assert.deepEqual(report.quarantined, [], `trial ${trial}`);
        const leftovers = (await Array.fromAsync(Deno.readDir(dataDir)))
          .filter((e) => e.name.startsWith(".tmp-") || e.name.startsWith(".trash-"));
        assert.deepEqual(leftovers, [], `trial ${trial}: open() left temporary files`);
        await verifyOnDisk(dataDir, trial, acks);
      }
      // Guard against a test that passes because the child never got to write anything, or
      // because every kill landed where no journal was left to replay.
      assert.ok(acknowledged > TRIALS * 10, `only ${acknowledged} writes acknowledged in all`);
      assert.ok(replayed >= TRIALS / 2, `only ${replayed} journals replayed in all`);
    });
  },
});
