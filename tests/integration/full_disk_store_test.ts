/**
 * A full disk under the real file store: writes reject with `InsufficientStorageError` (507),
 * one error line starts and one ends the episode, auth changes that failed are kept (readable,
 * counted) and written once there is space again, so nothing is lost and the folder stays
 * whole. On a real tmpfs when mounting is allowed, and with an injected ENOSPC everywhere.
 */
import { strict as assert } from "node:assert";
import { InsufficientStorageError } from "../../src/domain/errors.ts";
import { singleOwnerFence } from "../../src/domain/fence.ts";
import type { SessionRecord } from "../../src/domain/session.ts";
import type { SessionId } from "../../src/domain/session_id.ts";
import type { SessionStore } from "../../src/domain/session_store.ts";
import { FileSessionStore } from "../../src/persistence/file_session_store.ts";
import { probeFreeSpace } from "../../src/persistence/space_probe.ts";
import { FullDiskStore } from "../../src/storage/full_disk_store.ts";
import { NoSpaceInjector } from "../support/no_space_injector.ts";
import { captureLogger, silentLogger } from "../support/persistence_fixtures.ts";
import { tmpfsRequirement, withSmallDisk } from "../support/small_disk.ts";
import { withTempDir } from "../support/temp_dir.ts";
import { testsRequiring } from "../support/test_requirements.ts";

/** A disk that can be filled and freed, with the store on it. */
interface Disk {
  dataDir: string;
  inner: SessionStore;
  probe: () => Promise<void>;
  fill(): Promise<void>;
  free(): Promise<void>;
  /** Whether a failed metadata write stays in the store's memory (the real store's promise). */
  realStore: boolean;
}

const SHOP = "shop-1" as SessionId;
const FENCE = singleOwnerFence(SHOP);

function record(id: SessionId, name: string): SessionRecord {
  const now = new Date().toISOString();
  return {
    id,
    name,
    status: "connected",
    desiredState: "running",
    phoneNumber: "15550001111",
    pushName: null,
    createdAt: now,
    updatedAt: now,
    connectedAt: now,
    lastDisconnectedAt: null,
    lastDisconnect: null,
    webhooks: [],
  };
}

const bytes = (n: number, seed: number) =>
  crypto.getRandomValues(new Uint8Array(n)).fill(seed, 0, 1);

async function fullDiskScenario(disk: Disk): Promise<void> {
  const { logger, lines } = captureLogger();
  const recovered: boolean[] = [];
  const changed = new Set<() => void>();
  const store = new FullDiskStore(disk.inner, {
    logger,
    probe: disk.probe,
    retry: { initialDelayMs: 20, maxDelayMs: 200 },
    onChange: (writable) => {
      recovered.push(writable);
      for (const wake of changed) wake();
    },
  });
  await store.open();
  const creds1 = bytes(16 * 1024, 1);
  await store.create(record(SHOP, "before"));
  await store.auth(FENCE).write(new Map([["creds.json", creds1]]));

  await disk.fill();
  const rename = () => ({ name: "while full" });
  await assert.rejects(store.updateSpec(SHOP, rename), (error) => {
    assert.ok(error instanceof InsufficientStorageError);
    assert.equal(error.code, "insufficient_storage");
    assert.match(
      error.message,
      /Saving the session failed: the disk holding the data directory is full/,
    );
    return true;
  });
  assert.equal(store.problem?.code, "insufficient_storage");

  // Auth changes that fail are kept: readable, counted, and carried by the next attempt.
  const creds2 = bytes(16 * 1024, 2);
  const preKey = bytes(8 * 1024, 3);
  const auth = store.auth(FENCE);
  await assert.rejects(
    auth.write(new Map([["creds.json", creds2], ["pre-key-1.json", preKey]])),
    InsufficientStorageError,
  );
  await assert.rejects(auth.write(new Map([["pre-key-2.json", preKey]])), InsufficientStorageError);
  assert.deepEqual(await auth.read("creds.json"), creds2);
  assert.deepEqual(await auth.list(), ["creds.json", "pre-key-1.json", "pre-key-2.json"]);
  assert.equal(store.unwrittenAuthFiles(SHOP), 3);
  assert.deepEqual(recovered, [false]);

  // Space comes back: the probe notices by itself and the kept changes are written.
  await disk.free();
  while (recovered.length < 2) {
    await new Promise<void>((resolve) => changed.add(resolve));
  }
  assert.deepEqual(recovered, [false, true]);
  assert.equal(store.problem, null);
  assert.equal(store.unwrittenAuthFiles(SHOP), 0);
  const episode = lines.filter((line) => line.level >= 50).map((line) => line.msg);
  assert.deepEqual(episode, [
    "data directory disk full: writes fail until space is freed; retrying by itself",
    "data directory disk has space again: writes succeed",
  ]);
  await store.close();

  // On disk: every change, and a folder a fresh store opens as it is.
  const reopened = new FileSessionStore({ dataDir: disk.dataDir, logger: silentLogger });
  const report = await reopened.open();
  try {
    const files = reopened.auth(FENCE);
    assert.deepEqual(await files.read("creds.json"), creds2);
    assert.deepEqual(await files.read("pre-key-1.json"), preKey);
    assert.deepEqual(await files.read("pre-key-2.json"), preKey);
    if (disk.realStore) assert.equal(report.sessions[0].name, "while full");
    assert.deepEqual(report.quarantined, []);
  } finally {
    await reopened.close();
  }
}

Deno.test("a full disk (injected ENOSPC): 507, one error line each way, auth changes kept and written after", () =>
  withTempDir(async (dataDir) => {
    const injector = new NoSpaceInjector(new FileSessionStore({ dataDir, logger: silentLogger }));
    await fullDiskScenario({
      dataDir,
      inner: injector,
      probe: injector.probe,
      fill: () => Promise.resolve(void (injector.full = true)),
      free: () => Promise.resolve(void (injector.full = false)),
      realStore: false,
    });
  }));

const tmpfsTest = await testsRequiring(tmpfsRequirement);

tmpfsTest(
  "a full disk (a real tmpfs): 507, one error line each way, auth changes kept and written after",
  {},
  () =>
    withSmallDisk(2048, async (disk) => {
      const dataDir = `${disk.dir}/data`;
      await fullDiskScenario({
        dataDir,
        inner: new FileSessionStore({ dataDir, logger: silentLogger }),
        probe: () => probeFreeSpace(dataDir),
        fill: disk.fill,
        free: disk.free,
        realStore: true,
      });
    }),
);
