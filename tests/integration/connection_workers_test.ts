/**
 * The worker pool that runs WhatsApp connections off the main thread, against the fake WhatsApp
 * server with the real Baileys in the workers: a worker that dies takes no session with it, and a
 * pool whose workers cannot start runs the connections on the main thread instead.
 */
import { strict as assert } from "node:assert";
import type { ConnectionListener, ConnectionStatusUpdate } from "../../src/domain/connection.ts";
import type { SessionId } from "../../src/domain/session_id.ts";
import { FileSessionStore } from "../../src/persistence/file_session_store.ts";
import {
  BaileysConnectionFactory,
  type WhatsAppSettings,
} from "../../src/whatsapp/baileys_connection_factory.ts";
import { WorkerConnectionFactory } from "../../src/whatsapp/worker_pool/worker_connection_factory.ts";
import { CRASH_NUMBER, REJECT_NUMBER } from "../support/crashable_connection_worker.ts";
import { type FakeWhatsApp, startFakeWhatsApp } from "../support/fake_whatsapp/server.ts";
import { testLogger } from "../support/logger.ts";
import { withTempDir } from "../support/temp_dir.ts";
import { sleepUntilWoken } from "../support/waiters.ts";
import { singleOwnerFence } from "../../src/domain/fence.ts";

const CRASHABLE_WORKER = new URL("../support/crashable_connection_worker.ts", import.meta.url);
const BROKEN_WORKER = new URL("../support/broken_connection_worker.ts", import.meta.url);

/** Everything a connection reported, with a way to wait for a condition on it. */
class Recorder implements ConnectionListener {
  readonly statuses: ConnectionStatusUpdate[] = [];
  readonly qrs: string[] = [];
  readonly #waiters = new Set<() => void>();

  onStatus(update: ConnectionStatusUpdate): void {
    this.statuses.push(update);
    this.#wake();
  }
  onQr(qr: string): void {
    this.qrs.push(qr);
    this.#wake();
  }
  onMessage(): void {}
  onMessageStatus(): void {}
  onActivity(): void {}
  onAccountEvent(): void {}

  async waitFor<T>(check: () => T | undefined | false, what: string, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleepUntilWoken(this.#waiters, deadline - Date.now());
    }
  }

  #wake(): void {
    for (const wake of this.#waiters) wake();
  }
}

interface Pool {
  fake: FakeWhatsApp;
  store: FileSessionStore;
  factory: WorkerConnectionFactory;
  /** How many times the pool reported a dead worker. */
  failures: () => number;
}

async function withPool(workerUrl: URL, fn: (pool: Pool) => Promise<void>): Promise<void> {
  const fake = await startFakeWhatsApp();
  try {
    await withTempDir(async (dataDir) => {
      const logger = testLogger();
      const store = new FileSessionStore({ dataDir, logger });
      await store.open();
      const whatsapp: WhatsAppSettings = {
        wsUrl: fake.wsUrl,
        testRootPublicKey: fake.rootPublicKey,
        baileysLogLevel: "silent",
        deviceName: "Worker test",
        backoff: { initialDelayMs: 50, maxDelayMs: 500 },
      };
      let failures = 0;
      const factory = new WorkerConnectionFactory({
        workers: 2,
        settings: {
          whatsapp,
          log: { level: "silent", format: "json" },
          verificationCounters: new SharedArrayBuffer(16),
        },
        logger,
        fallback: () => Promise.resolve(new BaileysConnectionFactory(whatsapp)),
        workerUrl,
        onWorkerFailure: () => failures++,
      });
      try {
        await fn({ fake, store, factory, failures: () => failures });
      } finally {
        await factory.close();
        await store.close();
      }
    });
  } finally {
    await fake.close();
  }
}

/** Starts a connection for `id` and links it with the fake phone `phoneNumber`. */
/** A connection of the pool for session `id` (not started), and what it reports. */
function newConnection(pool: Pool, id: string) {
  const recorder = new Recorder();
  const sessionId = id as SessionId;
  const connection = pool.factory.create({
    sessionId,
    auth: pool.store.auth(singleOwnerFence(sessionId)),
    logger: testLogger().child({ sessionId }),
    listener: recorder,
  });
  return { connection, recorder };
}

async function linkedConnection(pool: Pool, id: string, phoneNumber: string) {
  const { connection, recorder } = newConnection(pool, id);
  await connection.start();
  const qr = await recorder.waitFor(() => recorder.qrs[0], "a QR code");
  await pool.fake.pairWithQr(qr, { phoneNumber });
  await recorder.waitFor(
    () => recorder.statuses.find((s) => s.status === "connected" && s.account),
    "connected",
  );
  return { connection, recorder };
}

Deno.test({
  name: "a session whose worker dies reconnects in another worker, without a QR or a logout",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withPool(CRASHABLE_WORKER, async (pool) => {
      const { connection, recorder } = await linkedConnection(pool, "crash-1", "15550002001");
      const before = recorder.statuses.length;

      await assert.rejects(() => connection.checkNumbers([CRASH_NUMBER]), /crashed on purpose/);

      const after = () => recorder.statuses.slice(before);
      await recorder.waitFor(
        () => after().find((s) => s.status === "connected"),
        "connected again",
      );
      const lost = after().find((s) => s.status === "reconnecting");
      assert.equal(lost?.disconnect?.reason, "worker_failed");
      assert.equal(recorder.qrs.length, 1, "no new QR: the stored credentials were used");
      assert(pool.factory.usingWorkers);
      // The connection works in its new worker, and the phone still lists the device.
      const [check] = await connection.checkNumbers(["15550002001"]);
      assert.equal(check.phoneNumber, "15550002001");
      await connection.stop();
      const device = pool.fake.devices().find((d) => d.phoneNumber === "15550002001");
      assert.equal(device?.removed, false);
    }),
});

Deno.test({
  name: "sessions in the other worker are untouched when one worker dies",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withPool(CRASHABLE_WORKER, async (pool) => {
      // Two connections go to the two workers (each new one goes to the least loaded).
      const first = await linkedConnection(pool, "crash-a", "15550002011");
      const second = await linkedConnection(pool, "crash-b", "15550002012");
      const secondBefore = second.recorder.statuses.length;

      await assert.rejects(() => first.connection.checkNumbers([CRASH_NUMBER]));
      await first.recorder.waitFor(
        () => first.recorder.statuses.findLast((s) => s.status === "connected"),
        "the first session connected again",
      );

      assert.equal(second.recorder.statuses.length, secondBefore, "the second session saw nothing");
      const [check] = await second.connection.checkNumbers(["15550002012"]);
      assert.equal(check.phoneNumber, "15550002012");
      await Promise.all([first.connection.stop(), second.connection.stop()]);
    }),
});

Deno.test({
  name: "workers that cannot start leave the connections on the main thread",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withPool(BROKEN_WORKER, async (pool) => {
      const { connection } = await linkedConnection(pool, "fallback-1", "15550002021");
      assert.equal(pool.factory.usingWorkers, false);
      assert.equal(pool.factory.liveWorkers, 0);
      const [check] = await connection.checkNumbers(["15550002021"]);
      assert.equal(check.phoneNumber, "15550002021");
      await connection.stop();
    }),
});

Deno.test({
  name: "a start that fails in a worker rejects with the worker's reason",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withPool(CRASHABLE_WORKER, async (pool) => {
      const sessionId = "torn-creds" as SessionId;
      await pool.store.auth(singleOwnerFence(sessionId)).write(
        new Map([["creds.json", new TextEncoder().encode('{"noiseKey":')]]),
      );
      const { connection, recorder } = newConnection(pool, sessionId);
      await assert.rejects(() => connection.start(), /creds\.json is not valid JSON/);
      assert.equal(recorder.statuses.length, 0);
      // The stored credentials are left for someone to look at.
      assert.ok(await pool.store.auth(singleOwnerFence(sessionId)).exists());
    }),
});

Deno.test({
  name: "connections started together, before the workers are ready, are spread over them",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withPool(CRASHABLE_WORKER, async (pool) => {
      const opened = Array.from({ length: 4 }, (_, i) => newConnection(pool, `spread-${i}`));
      const connections = opened.map(({ connection }) => connection);
      const recorders = opened.map(({ recorder }) => recorder);
      await Promise.all(connections.map((connection) => connection.start()));
      assert.deepEqual(pool.factory.workerLoads, [2, 2]);
      for (const recorder of recorders) {
        await recorder.waitFor(() => recorder.qrs[0], "a QR code");
      }
      await Promise.all(connections.map((connection) => connection.stop()));
      assert.deepEqual(pool.factory.workerLoads, [0, 0]);
    }),
});

Deno.test({
  name: "an unhandled rejection in a worker is a death too: its session reconnects elsewhere",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withPool(CRASHABLE_WORKER, async (pool) => {
      const { connection, recorder } = await linkedConnection(pool, "reject-1", "15550002031");
      const before = recorder.statuses.length;
      await assert.rejects(() => connection.checkNumbers([REJECT_NUMBER]), /rejected on purpose/);
      await recorder.waitFor(
        () => recorder.statuses.slice(before).find((s) => s.status === "connected"),
        "connected again",
      );
      assert.equal(pool.failures(), 1);
      assert.equal(recorder.qrs.length, 1);
      await connection.stop();
    }),
});
