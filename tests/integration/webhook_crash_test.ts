/**
 * The webhook outbox's promise across a crash: the gateway, as a real child process, is killed
 * with SIGKILL while events wait for an unreachable receiver, or while deliveries are in flight;
 * the next gateway on the same data directory delivers every one of them, in order per session.
 */
import { strict as assert } from "node:assert";
import { type GatewayProcess, spawnGateway } from "../support/gateway_process.ts";
import { withTempDir } from "../support/temp_dir.ts";
import {
  patientWebhookEnv,
  startWebhookReceiver,
  type WebhookReceiver,
} from "../support/webhook_receiver.ts";

const processTest = { sanitizeOps: false, sanitizeResources: false };
const SECRET = "crash-test-secret-0123456789";

/** The gateway's settings for these tests: status events to `receiver`, retried fast, offline. */
function webhookEnv(receiver: WebhookReceiver): Record<string, string> {
  return {
    ...patientWebhookEnv(receiver, SECRET, "session.status"),
    // Nothing listens there: each session goes initializing → connecting → failed.
    WA_WS_URL: "ws://127.0.0.1:9/ws",
  };
}

async function createSessions(gateway: GatewayProcess, ids: string[]): Promise<void> {
  for (const id of ids) {
    const res = await gateway.fetch("/api/sessions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id }),
    });
    assert.equal(res.status, 201);
    await res.body?.cancel();
  }
}

/** The live entries of the pending log, in log order: what the outbox holds. */
async function pendingEntries(dataDir: string) {
  const text = await Deno.readTextFile(`${dataDir}/.webhook-outbox/pending.jsonl`);
  const live = new Map<string, { eventId: string; sessionId: string; seq: number }>();
  for (const line of text.split("\n")) {
    if (!line) continue;
    const record = JSON.parse(line);
    if (record.op === "add") live.set(record.entry.id, record.entry);
    else if (record.op === "done") live.delete(record.id);
  }
  return [...live.values()].sort((a, b) => a.seq - b.seq);
}

Deno.test(
  "events pending when the gateway is SIGKILLed are delivered after the restart",
  processTest,
  async () => {
    const receiver = startWebhookReceiver({ secret: SECRET });
    await receiver.stop(); // refused until the second gateway runs
    const env = webhookEnv(receiver);
    const sessions = Array.from({ length: 12 }, (_, i) => `s${i}`);
    try {
      await withTempDir(async (dir) => {
        const first = await spawnGateway({ dataDir: dir, env });
        try {
          await createSessions(first, sessions);
          await first.waitForLog((line) => line.msg === "webhook delivery failed; will retry");
          const deadline = Date.now() + 15_000;
          while ((await pendingEntries(dir)).length < 3 * sessions.length) {
            if (Date.now() > deadline) throw new Error("the outbox did not fill up");
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        } finally {
          first.kill("SIGKILL");
          await first.exited;
        }
        const pending = await pendingEntries(dir);
        assert.ok(pending.length >= 3 * sessions.length);
        assert.equal(receiver.received.length, 0);

        receiver.start();
        const second = await spawnGateway({ dataDir: dir, env });
        try {
          await second.waitForLog((line) =>
            line.msg === "delivering webhook events left pending" && line.pending === pending.length
          );
          const wanted = new Set(pending.map((entry) => entry.eventId));
          const accepted = await receiver.waitFor(
            (all) => all.filter((d) => wanted.has(d.event.id)).length >= wanted.size,
            30_000,
          );
          const ids = accepted.map((delivery) => delivery.event.id);
          assert.equal(new Set(ids).size, ids.length, "none twice");
          // The restarted sessions report new statuses too: those come after the old ones.
          for (const session of sessions) {
            const queued = pending.filter((e) => e.sessionId === session).map((e) => e.eventId);
            const delivered = accepted.filter((d) => d.event.sessionId === session)
              .map((d) => d.event.id);
            assert.deepEqual(
              delivered.slice(0, queued.length),
              queued,
              `${session}: first, in the order they were queued`,
            );
          }
          assert.ok(accepted.every((delivery) => delivery.validSignature));
          const deadline = Date.now() + 10_000;
          while ((await pendingEntries(dir)).some((entry) => wanted.has(entry.eventId))) {
            if (Date.now() > deadline) throw new Error("delivered entries stayed in the outbox");
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          second.kill("SIGTERM");
          assert.equal((await second.exited).code, 0, "drains with webhooks pending");
        } finally {
          await second.dispose();
        }
      });
    } finally {
      await receiver.close();
    }
  },
);

Deno.test(
  "events whose deliveries are in flight when the gateway is SIGKILLed are delivered after the restart",
  processTest,
  async () => {
    // Each answer comes half a second after its request: deliveries are in flight at the kill.
    const receiver = startWebhookReceiver({ secret: SECRET });
    receiver.holdAnswers(500);
    const env = webhookEnv(receiver);
    const sessions = Array.from({ length: 6 }, (_, i) => `s${i}`);
    try {
      await withTempDir(async (dir) => {
        const first = await spawnGateway({ dataDir: dir, env });
        let inFlight: string[];
        try {
          await createSessions(first, sessions);
          await receiver.waitForReceived(4);
        } finally {
          first.kill("SIGKILL");
          await first.exited;
          // Sent, and no answer seen before the kill (each is held for 500 ms).
          inFlight = receiver.received.map((delivery) => delivery.event.id);
        }
        const pending = await pendingEntries(dir);
        const wanted = new Set(pending.map((entry) => entry.eventId));
        const cutShort = inFlight.filter((id) => wanted.has(id));
        assert.ok(cutShort.length > 0, "a delivery was in flight at the kill");

        receiver.holdAnswers(0);
        const seenBefore = receiver.received.length;
        const second = await spawnGateway({ dataDir: dir, env });
        try {
          await receiver.waitFor(
            (all) =>
              [...wanted].every((id) => all.slice(seenBefore).some((d) => d.event.id === id)),
            30_000,
          );
          const after = receiver.received.slice(seenBefore).filter((d) => d.status < 300);
          // Each queued event once after the restart, first in its session's queue, in order;
          // those cut short by the kill went out again (the repeat webhooks.md documents).
          for (const session of sessions) {
            const queued = pending.filter((e) => e.sessionId === session).map((e) => e.eventId);
            const delivered = after.filter((d) => d.event.sessionId === session)
              .map((d) => d.event.id);
            assert.deepEqual(delivered.slice(0, queued.length), queued, session);
          }
          for (const id of cutShort) assert.ok(after.some((d) => d.event.id === id), id);
          assert.ok(after.every((delivery) => delivery.validSignature));
        } finally {
          await second.dispose();
        }
      });
    } finally {
      await receiver.close();
    }
  },
);
