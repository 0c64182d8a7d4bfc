import { strict as assert } from "node:assert";
import { FileWebhookOutbox } from "../../../src/persistence/file_webhook_outbox.ts";
import { testLogger } from "../../support/logger.ts";
import { withTempDir } from "../../support/temp_dir.ts";
import { outboxEntry } from "../../support/webhook_outbox_contract.ts";

const entry = outboxEntry;

async function open(dataDir: string, compactAfterBytes?: number) {
  const outbox = new FileWebhookOutbox({ dataDir, logger: testLogger(), compactAfterBytes });
  const report = await outbox.open();
  return { outbox, report };
}

const pendingPath = (dir: string) => `${dir}/.webhook-outbox/pending.jsonl`;
const deadPath = (dir: string) => `${dir}/.webhook-outbox/dead-letters.jsonl`;

Deno.test("FileWebhookOutbox keeps appended entries in order across a reopen, minus removed ones", async () => {
  await withTempDir(async (dir) => {
    const first = await open(dir);
    const added = await first.outbox.append([entry(1), entry(2), entry(3)]);
    assert.deepEqual(added.map((e) => e.seq), [1, 2, 3]);
    await first.outbox.append([entry(4)]);
    await first.outbox.remove(["dlv_2"]);
    // No close: what resolved is on disk, as after a crash.
    const second = await open(dir);
    assert.deepEqual(second.outbox.pending().map((e) => e.id), ["dlv_1", "dlv_3", "dlv_4"]);
    assert.equal(second.report.pending, 3);
    const [next] = await second.outbox.append([entry(5)]);
    assert.equal(next.seq, 5, "seq continues after the highest seen");
    await first.outbox.close();
    await second.outbox.close();
  });
});

Deno.test("FileWebhookOutbox drops a torn last line (a crash mid-append) and keeps the rest", async () => {
  await withTempDir(async (dir) => {
    const first = await open(dir);
    await first.outbox.append([entry(1), entry(2)]);
    await first.outbox.close();
    await Deno.writeTextFile(pendingPath(dir), '{"op":"add","entry":{"id":"dlv_3","se', {
      append: true,
    });
    const second = await open(dir);
    assert.deepEqual(second.outbox.pending().map((e) => e.id), ["dlv_1", "dlv_2"]);
    assert.equal(second.report.repairs.length, 1);
    assert.match(second.report.repairs[0], /incomplete last line/);
    // The file was rewritten: appending after the repair gives whole lines.
    await second.outbox.append([entry(4)]);
    await second.outbox.close();
    const third = await open(dir);
    assert.deepEqual(third.outbox.pending().map((e) => e.id), ["dlv_1", "dlv_2", "dlv_4"]);
    assert.deepEqual(third.report.repairs, []);
    await third.outbox.close();
  });
});

Deno.test("FileWebhookOutbox keeps a log with unreadable lines aside and loads the valid ones", async () => {
  await withTempDir(async (dir) => {
    const first = await open(dir);
    await first.outbox.append([entry(1)]);
    await first.outbox.close();
    await Deno.writeTextFile(
      pendingPath(dir),
      'garbage\n{"op":"add","entry":{"id":"x"}}\n',
      { append: true },
    );
    const second = await open(dir);
    assert.deepEqual(second.outbox.pending().map((e) => e.id), ["dlv_1"]);
    assert.match(second.report.repairs.join(), /2 unreadable or invalid line/);
    const names = [...Deno.readDirSync(`${dir}/.webhook-outbox`)].map((e) => e.name);
    const copy = names.find((name) => name.startsWith("pending.jsonl.corrupt-"));
    assert.ok(copy, names.join());
    assert.ok(Deno.readTextFileSync(`${dir}/.webhook-outbox/${copy}`).includes("garbage"));
    await second.outbox.close();
  });
});

Deno.test("FileWebhookOutbox moves entries to the dead letters and back, durably", async () => {
  await withTempDir(async (dir) => {
    const first = await open(dir);
    const [one, two] = await first.outbox.append([entry(1), entry(2)]);
    await first.outbox.deadLetter(one, { attempts: 3, lastError: "HTTP 500" });
    await first.outbox.deadLetter(two, { attempts: 3, lastError: "timeout" });
    assert.deepEqual(first.outbox.pending(), []);

    const second = await open(dir);
    assert.deepEqual(second.outbox.pending(), []);
    const letters = second.outbox.deadLettersNow();
    assert.deepEqual(letters.map((l) => [l.entry.id, l.attempts, l.lastError]), [
      ["dlv_1", 3, "HTTP 500"],
      ["dlv_2", 3, "timeout"],
    ]);
    const requeued = await second.outbox.requeue("dlv_1");
    assert.equal(requeued?.generation, 1);
    assert.ok(requeued!.seq > two.seq, "back at the end of the queue");
    assert.equal(await second.outbox.requeue("nope"), undefined);
    assert.equal(await second.outbox.discard("dlv_2"), true);
    assert.equal(await second.outbox.discard("dlv_2"), false);

    const third = await open(dir);
    assert.deepEqual(third.outbox.pending().map((e) => [e.id, e.generation]), [["dlv_1", 1]]);
    assert.deepEqual(third.outbox.deadLettersNow(), []);
    for (const { outbox } of [first, second, third]) await outbox.close();
  });
});

Deno.test("FileWebhookOutbox keeps each entry's failed attempts across a reopen and a compaction; a requeue starts again", async () => {
  await withTempDir(async (dir) => {
    const first = await open(dir);
    const [one] = await first.outbox.append([entry(1), entry(2)]);
    assert.equal(one.attempts, 0);
    await first.outbox.recordFailedAttempts("dlv_1", 1);
    await first.outbox.recordFailedAttempts("dlv_1", 2);
    await first.outbox.recordFailedAttempts("nope", 5);
    assert.deepEqual(first.outbox.pending().map((e) => e.attempts), [2, 0]);

    // No close: what resolved is on disk, as after a crash. Opening compacts the log.
    const second = await open(dir);
    assert.deepEqual(second.outbox.pending().map((e) => [e.id, e.attempts]), [
      ["dlv_1", 2],
      ["dlv_2", 0],
    ]);
    const third = await open(dir);
    assert.deepEqual(third.outbox.pending().map((e) => e.attempts), [2, 0], "after compaction");

    const [head] = third.outbox.pending();
    await third.outbox.deadLetter(head, { attempts: 3, lastError: "HTTP 500" });
    const requeued = await third.outbox.requeue("dlv_1");
    assert.equal(requeued?.attempts, 0);
    const fourth = await open(dir);
    assert.deepEqual(fourth.outbox.pending().map((e) => [e.id, e.attempts]), [
      ["dlv_2", 0],
      ["dlv_1", 0],
    ]);
    for (const { outbox } of [first, second, third, fourth]) await outbox.close();
  });
});

Deno.test("FileWebhookOutbox reads a log written before attempts were recorded as 0 attempts", async () => {
  await withTempDir(async (dir) => {
    const { attempts: _, ...old } = { ...entry(1), seq: 1, generation: 0, attempts: 0 };
    await Deno.mkdir(`${dir}/.webhook-outbox`);
    await Deno.writeTextFile(pendingPath(dir), `${JSON.stringify({ op: "add", entry: old })}\n`);
    const { outbox, report } = await open(dir);
    assert.deepEqual(report.repairs, []);
    assert.deepEqual(outbox.pending().map((e) => [e.id, e.attempts]), [["dlv_1", 0]]);
    await outbox.close();
  });
});

Deno.test("FileWebhookOutbox resolves an entry caught in both logs by a crash: the later move wins", async () => {
  await withTempDir(async (dir) => {
    const setup = await open(dir);
    const [one, two] = await setup.outbox.append([entry(1), entry(2)]);
    await setup.outbox.close();
    const line = (record: unknown) => `${JSON.stringify(record)}\n`;
    const letter = (e: typeof one) => ({
      op: "dead",
      letter: { entry: e, attempts: 5, lastError: "HTTP 500", deadAt: new Date(0).toISOString() },
    });
    // dlv_1: dead-lettered, crash before its "done" reached the pending log.
    // dlv_2: requeued (generation 1 in the pending log), crash before its "discard".
    await Deno.writeTextFile(deadPath(dir), line(letter(one)) + line(letter(two)));
    await Deno.writeTextFile(
      pendingPath(dir),
      line({ op: "done", id: "dlv_2" }) +
        line({ op: "add", entry: { ...two, seq: 3, generation: 1 } }),
      { append: true },
    );
    const { outbox } = await open(dir);
    assert.deepEqual(outbox.pending().map((e) => [e.id, e.generation]), [["dlv_2", 1]]);
    assert.deepEqual(outbox.deadLettersNow().map((l) => l.entry.id), ["dlv_1"]);
    await outbox.close();
  });
});

Deno.test("FileWebhookOutbox compacts its log to the live entries once it has grown", async () => {
  await withTempDir(async (dir) => {
    const { outbox } = await open(dir, 4_096);
    for (let n = 1; n <= 200; n++) {
      const [added] = await outbox.append([entry(n)]);
      if (n % 10 !== 0) await outbox.remove([added.id]);
    }
    await outbox.flush();
    const size = (await Deno.stat(pendingPath(dir))).size;
    assert.ok(size < 3 * 4_096, `the log stays small: ${size} bytes`);
    await outbox.close();
    const reopened = await open(dir, 4_096);
    assert.deepEqual(
      reopened.outbox.pending().map((e) => e.id),
      Array.from({ length: 20 }, (_, i) => `dlv_${(i + 1) * 10}`),
    );
    await reopened.outbox.close();
  });
});

Deno.test("FileWebhookOutbox files are private: folder 0700, logs 0600", async () => {
  await withTempDir(async (dir) => {
    const { outbox } = await open(dir);
    await outbox.append([entry(1)]);
    await outbox.close();
    assert.equal((await Deno.stat(`${dir}/.webhook-outbox`)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(pendingPath(dir))).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(deadPath(dir))).mode! & 0o777, 0o600);
  });
});
