import assert from "node:assert/strict";
import {
  DataDirectoryLockedError,
  PersistenceError,
  ValidationError,
} from "../../../src/domain/errors.ts";
import type { SessionRecord } from "../../../src/domain/session.ts";
import type { SessionId } from "../../../src/domain/session_id.ts";
import { FileSessionStore } from "../../../src/persistence/file_session_store.ts";
import {
  captureLogger,
  exists,
  sessionRecord,
  silentLogger,
  withTempDir,
} from "../../support/persistence_fixtures.ts";
import { singleOwnerFence } from "../../../src/domain/fence.ts";

const NOW = new Date("2025-06-01T12:00:00.000Z");
const clock = () => NOW;
const META = "sessions-metadata.json";

function newStore(dataDir: string, logger = silentLogger) {
  return new FileSessionStore({ dataDir, logger, clock });
}

async function readMetadata(dataDir: string): Promise<Record<string, SessionRecord>> {
  return JSON.parse(await Deno.readTextFile(`${dataDir}/${META}`));
}

async function entries(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

async function writeAuthFolder(dataDir: string, id: string): Promise<void> {
  await Deno.mkdir(`${dataDir}/${id}`, { recursive: true });
  await Deno.writeTextFile(`${dataDir}/${id}/creds.json`, `{"me":"${id}"}`);
}

Deno.test("open() creates the data directory (0700) and an empty metadata file", async () => {
  await withTempDir(async (root) => {
    const dataDir = `${root}/nested/data`;
    const store = newStore(dataDir);
    const report = await store.open();
    try {
      assert.deepEqual(report, {
        sessions: [],
        quarantined: [],
        corruptMetadata: null,
        rebuiltFromAuth: [],
      });
      assert.equal((await Deno.stat(dataDir)).mode! & 0o777, 0o700);
      assert.deepEqual(await readMetadata(dataDir), {});
      assert.equal((await Deno.stat(`${dataDir}/${META}`)).mode! & 0o777, 0o600);
    } finally {
      await store.close();
    }
  });
});

Deno.test("open() restricts an existing data directory to its owner", async () => {
  await withTempDir(async (root) => {
    await Deno.mkdir(`${root}/data`, { mode: 0o755 });
    await Deno.chmod(`${root}/data`, 0o755);
    const store = newStore(`${root}/data`);
    await store.open();
    await store.close();
    assert.equal((await Deno.stat(`${root}/data`)).mode! & 0o777, 0o700);
  });
});

Deno.test("report() changes the record with the same id in the file", async () => {
  await withTempDir(async (dataDir) => {
    const store = newStore(dataDir);
    await store.open();
    await store.create(sessionRecord("a", { status: "qr" }));
    await store.report(singleOwnerFence("a" as SessionId), { status: "connected" });
    await store.close();
    const metadata = await readMetadata(dataDir);
    assert.deepEqual(Object.keys(metadata), ["a"]);
    assert.equal(metadata.a.status, "connected");
  });
});

Deno.test("create() rejects a record that would fail validation when loaded", async () => {
  await withTempDir(async (dataDir) => {
    const store = newStore(dataDir);
    await store.open();
    try {
      const bad = { ...sessionRecord("a"), name: "x".repeat(500) };
      await assert.rejects(store.create(bad), ValidationError);
      assert.deepEqual(await readMetadata(dataDir), {});
    } finally {
      await store.close();
    }
  });
});

Deno.test("1,000 concurrent saves of distinct ids keep 1,000 entries", async () => {
  await withTempDir(async (dataDir) => {
    const store = newStore(dataDir);
    await store.open();
    const ids = Array.from({ length: 1000 }, (_, i) => `session-${i}`);
    await Promise.all(ids.map((id) => store.create(sessionRecord(id))));
    await store.close();
    assert.deepEqual(Object.keys(await readMetadata(dataDir)).sort(), ids.sort());
  });
});

Deno.test("concurrent saves are coalesced into far fewer metadata writes", async () => {
  await withTempDir(async (dataDir) => {
    const store = newStore(dataDir);
    await store.open();
    const before = store.metadataWrites;
    const saves: Promise<void>[] = [];
    // Saves arrive in waves while writes are in flight, as they do from many sockets.
    for (let wave = 0; wave < 20; wave++) {
      for (let i = 0; i < 50; i++) saves.push(store.create(sessionRecord(`s-${wave}-${i}`)));
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await Promise.all(saves);
    const writes = store.metadataWrites - before;
    await store.close();
    assert.ok(writes >= 1 && writes <= 100, `1,000 saves took ${writes} writes`);
    assert.equal(Object.keys(await readMetadata(dataDir)).length, 1000);
  });
});

Deno.test("auth folders without metadata are listed but not given records", async () => {
  await withTempDir(async (dataDir) => {
    await writeAuthFolder(dataDir, "dropped-in");
    const first = newStore(dataDir);
    const fresh = await first.open(); // no metadata file yet
    assert.deepEqual(await first.listAuth(), ["dropped-in"]);
    await first.close();
    await writeAuthFolder(dataDir, "dropped-later");
    const second = newStore(dataDir);
    const existing = await second.open(); // valid metadata file without them
    await second.close();
    for (const report of [fresh, existing]) {
      assert.deepEqual(report.sessions, []);
      assert.deepEqual(report.rebuiltFromAuth, []);
    }
    assert.deepEqual(await readMetadata(dataDir), {});
  });
});

Deno.test("corrupted metadata is moved aside, logged as an error and rebuilt from auth folders", async () => {
  await withTempDir(async (dataDir) => {
    await writeAuthFolder(dataDir, "alive");
    await Deno.writeTextFile(`${dataDir}/${META}`, '{"alive": {"id": "alive", "createdAt": "20');
    const { logger, lines } = captureLogger();
    const store = newStore(dataDir, logger);
    const report = await store.open();
    await store.close();

    const movedTo = `${dataDir}/${META}.corrupt-2025-06-01T12-00-00-000Z`;
    assert.equal(report.corruptMetadata?.movedTo, movedTo);
    assert.match(report.corruptMetadata!.reason, /JSON/);
    assert.equal(
      await Deno.readTextFile(movedTo),
      '{"alive": {"id": "alive", "createdAt": "20',
    );
    assert.deepEqual(report.rebuiltFromAuth, ["alive"]);
    const folder = await Deno.lstat(`${dataDir}/alive`);
    const createdAt = (folder.birthtime ?? folder.mtime)!.toISOString();
    assert.deepEqual(await readMetadata(dataDir), {
      alive: sessionRecord("alive", { status: "disconnected", createdAt }),
    });
    assert.ok(lines.some((l) => l.level === 50 && l.movedTo === movedTo), "logged as an error");
  });
});

Deno.test("metadata of the wrong shape is treated as corrupted, never silently reset", async () => {
  await withTempDir(async (dataDir) => {
    await writeAuthFolder(dataDir, "kept");
    await Deno.writeTextFile(`${dataDir}/${META}`, '[{"id": "kept"}]');
    const store = newStore(dataDir);
    const report = await store.open();
    await store.close();
    assert.match(report.corruptMetadata!.reason, /found an array/);
    assert.deepEqual(report.sessions.map((s) => s.id), ["kept"]);
    assert.ok((await entries(dataDir)).some((name) => name.startsWith(`${META}.corrupt-`)));
  });
});

Deno.test("a second corruption at the same instant does not overwrite the first one set aside", async () => {
  await withTempDir(async (dataDir) => {
    for (const content of ["first", "second"]) {
      await Deno.writeTextFile(`${dataDir}/${META}`, content);
      const store = newStore(dataDir);
      await store.open();
      await store.close();
    }
    const aside = (await entries(dataDir)).filter((name) => name.includes(".corrupt-"));
    assert.equal(aside.length, 2);
    const contents = await Promise.all(aside.map((n) => Deno.readTextFile(`${dataDir}/${n}`)));
    assert.deepEqual(contents.sort(), ["first", "second"]);
  });
});

Deno.test("invalid entries are quarantined with their reason while the others are kept", async () => {
  await withTempDir(async (dataDir) => {
    const good = sessionRecord("good", { name: "Good" });
    const broken = { ...sessionRecord("broken-with-auth"), status: "dancing" };
    await writeAuthFolder(dataDir, "broken-with-auth");
    await writeAuthFolder(dataDir, "orphan"); // never had metadata: not rebuilt
    await Deno.writeTextFile(
      `${dataDir}/${META}`,
      JSON.stringify({
        good,
        "broken-with-auth": broken,
        mismatch: { ...good, id: "other" },
        "../escape": { ...good, id: "../escape" },
      }),
    );
    const { logger, lines } = captureLogger();
    const store = newStore(dataDir, logger);
    const report = await store.open();
    await store.close();

    assert.deepEqual(report.quarantined.map((q) => q.key).sort(), [
      "../escape",
      "broken-with-auth",
      "mismatch",
    ]);
    assert.match(report.quarantined.find((q) => q.key === "mismatch")!.reason, /does not match/);
    assert.equal(report.corruptMetadata, null);
    assert.deepEqual(report.rebuiltFromAuth, ["broken-with-auth"]);
    assert.deepEqual(report.sessions.map((s) => s.id).sort(), ["broken-with-auth", "good"]);

    const quarantinePath = `${dataDir}/sessions-metadata.quarantine-2025-06-01T12-00-00-000Z.json`;
    const quarantined = JSON.parse(await Deno.readTextFile(quarantinePath));
    assert.deepEqual(quarantined.mismatch.entry, { ...good, id: "other" });
    assert.match(quarantined["broken-with-auth"].reason, /status/);

    const metadata = await readMetadata(dataDir);
    assert.deepEqual(Object.keys(metadata).sort(), ["broken-with-auth", "good"]);
    assert.deepEqual(metadata.good, good);
    assert.equal(metadata["broken-with-auth"].status, "disconnected");
    assert.ok(lines.some((l) => l.level === 50 && l.path === quarantinePath));
  });
});

Deno.test("listAuth() lists the session folders that hold auth files", async () => {
  await withTempDir(async (dataDir) => {
    const store = newStore(dataDir);
    await store.open();
    try {
      await store.auth(singleOwnerFence("b" as SessionId)).write(
        new Map([["creds.json", new Uint8Array([1])]]),
      );
      await store.auth(singleOwnerFence("a" as SessionId)).write(
        new Map([["creds.json", new Uint8Array([1])]]),
      );
      await Deno.mkdir(`${dataDir}/no-files`);
      assert.deepEqual((await store.listAuth()).sort(), ["a", "b"]);
    } finally {
      await store.close();
    }
  });
});

Deno.test("open() removes temporary files and deleted folders left by a crash", async () => {
  await withTempDir(async (dataDir) => {
    await writeAuthFolder(dataDir, "s1");
    await Deno.writeTextFile(`${dataDir}/.tmp-0000`, "half a metadata file");
    await Deno.writeTextFile(`${dataDir}/s1/.tmp-1111`, "half a key");
    await writeAuthFolder(dataDir, ".trash-2222");
    const store = newStore(dataDir);
    await store.open();
    await store.close();
    assert.deepEqual(await entries(dataDir), [".closed-cleanly", ".lock", "s1", META]);
    assert.deepEqual(await entries(`${dataDir}/s1`), ["creds.json"]);
  });
});

Deno.test("a clean close leaves its mark, which the next open removes before anything is written", async () => {
  await withTempDir(async (dataDir) => {
    await writeAuthFolder(dataDir, "s1");
    const first = newStore(dataDir);
    await first.open();
    assert.equal(await exists(`${dataDir}/.closed-cleanly`), false);
    await first.close();
    assert.equal(await exists(`${dataDir}/.closed-cleanly`), true);
    const second = newStore(dataDir);
    await second.open();
    // Gone while the store is open: a crash from now on finds no mark, and the next open sweeps.
    assert.equal(await exists(`${dataDir}/.closed-cleanly`), false);
    assert.deepEqual(await second.listAuth(), ["s1"]);
    await second.close();
  });
});

Deno.test("after a clean close the session folders are not swept: nothing a crash leaves can be there", async () => {
  await withTempDir(async (dataDir) => {
    await writeAuthFolder(dataDir, "s1");
    const first = newStore(dataDir);
    await first.open();
    await first.close();
    // Not something a clean close leaves; planted to see that the open did not list the folder.
    await Deno.writeTextFile(`${dataDir}/s1/.tmp-1111`, "planted");
    const second = newStore(dataDir);
    await second.open();
    await second.close();
    assert.deepEqual(await entries(`${dataDir}/s1`), [".tmp-1111", "creds.json"]);
    // Without the mark (as after a crash), the same leftover is removed.
    await Deno.remove(`${dataDir}/.closed-cleanly`);
    const third = newStore(dataDir);
    await third.open();
    await third.close();
    assert.deepEqual(await entries(`${dataDir}/s1`), ["creds.json"]);
  });
});

Deno.test("a second store on the same directory fails with DataDirectoryLockedError until the first closes", async () => {
  await withTempDir(async (dataDir) => {
    const first = newStore(dataDir);
    await first.open();
    const second = newStore(dataDir);
    await assert.rejects(second.open(), DataDirectoryLockedError);
    await first.close();
    await second.open(); // a failed open can be retried
    await second.close();
  });
});

Deno.test("every method rejects after close(), and closing twice is harmless", async () => {
  await withTempDir(async (dataDir) => {
    const store = newStore(dataDir);
    await assert.rejects(store.create(sessionRecord("early")), /not open/);
    await store.open();
    await store.close();
    await store.close();
    await assert.rejects(store.create(sessionRecord("a")), PersistenceError);
    await assert.rejects(store.remove("a" as SessionId), PersistenceError);
    await assert.rejects(store.listAuth(), PersistenceError);
    await assert.rejects(store.flush(), PersistenceError);
    await assert.rejects(
      store.auth(singleOwnerFence("a" as SessionId)).read("creds.json"),
      PersistenceError,
    );
    await assert.rejects(store.open(), PersistenceError);
  });
});

Deno.test("close() called while open() runs waits for it and releases the lock", async () => {
  await withTempDir(async (dataDir) => {
    const store = newStore(dataDir);
    const opening = store.open();
    await store.close();
    await opening;
    await assert.rejects(store.create(sessionRecord("a")), /closed/);
    const next = newStore(dataDir);
    await next.open();
    await next.close();
  });
});

Deno.test("flush() resolves once every accepted save is on disk", async () => {
  await withTempDir(async (dataDir) => {
    const store = newStore(dataDir);
    await store.open();
    try {
      const pending = Array.from({ length: 10 }, (_, i) => store.create(sessionRecord(`f${i}`)));
      await store.flush();
      assert.equal(Object.keys(await readMetadata(dataDir)).length, 10);
      await Promise.all(pending);
    } finally {
      await store.close();
    }
  });
});
