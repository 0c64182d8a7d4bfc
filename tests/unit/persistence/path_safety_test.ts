import assert from "node:assert/strict";
import { InvalidSessionIdError, PersistenceError } from "../../../src/domain/errors.ts";
import type { SessionId } from "../../../src/domain/session_id.ts";
import { InvalidAuthFileNameError } from "../../../src/persistence/auth_file_name.ts";
import { FileSessionStore } from "../../../src/persistence/file_session_store.ts";
import {
  captureLogger,
  sessionRecord,
  silentLogger,
  snapshotTree,
  withTempDir,
} from "../../support/persistence_fixtures.ts";
import { singleOwnerFence } from "../../../src/domain/fence.ts";

/**
 * A root holding the data directory and, beside it, sentinels that must never be touched:
 * `<root>/sentinel.txt`, `<root>/outside/creds.json` and `<root>/etc/passwd`.
 */
async function withSentinels(
  fn: (
    dataDir: string,
    root: string,
    outside: () => Promise<Record<string, string>>,
  ) => Promise<void>,
): Promise<void> {
  await withTempDir(async (root) => {
    await Deno.writeTextFile(`${root}/sentinel.txt`, "sentinel");
    await Deno.mkdir(`${root}/outside`);
    await Deno.writeTextFile(`${root}/outside/creds.json`, "outside creds");
    await Deno.mkdir(`${root}/etc`);
    await Deno.writeTextFile(`${root}/etc/passwd`, "root:x:0:0");
    const outside = async () => {
      const tree = await snapshotTree(root);
      return Object.fromEntries(Object.entries(tree).filter(([path]) => !path.startsWith("data")));
    };
    const before = await outside();
    await fn(`${root}/data`, root, outside);
    assert.deepEqual(await outside(), before, "something outside the data directory changed");
  });
}

const BAD_IDS = [
  "",
  ".",
  "..",
  "../x",
  "../sentinel.txt",
  "%2e%2e%2f",
  "%2e%2e%2fsentinel.txt",
  "/etc/passwd",
  "a/b",
  "a\\b",
  "..\\x",
  "a\0b",
  "\0",
  "ａｂｃ", // fullwidth letters
  "..／x", // fullwidth solidus
  "a\u2215b", // division slash
  "\u2024\u2024", // one dot leaders
  "x".repeat(65),
  " a",
  "-leading-dash",
  ".hidden",
];

Deno.test("session ids that could escape the data directory are rejected by save, remove and auth", async () => {
  await withSentinels(async (dataDir) => {
    const store = new FileSessionStore({ dataDir, logger: silentLogger });
    await store.open();
    try {
      for (const bad of BAD_IDS) {
        const label = JSON.stringify(bad);
        await assert.rejects(
          store.create({ ...sessionRecord("ok"), id: bad as SessionId }),
          InvalidSessionIdError,
          label,
        );
        await assert.rejects(store.remove(bad as SessionId), InvalidSessionIdError, label);
        assert.throws(
          () => store.auth(singleOwnerFence(bad as SessionId)),
          InvalidSessionIdError,
          label,
        );
      }
      assert.deepEqual(
        JSON.parse(await Deno.readTextFile(`${dataDir}/sessions-metadata.json`)),
        {},
      );
    } finally {
      await store.close();
    }
  });
});

Deno.test("auth file names that are not a plain file name are rejected and touch nothing", async () => {
  await withSentinels(async (dataDir) => {
    const store = new FileSessionStore({ dataDir, logger: silentLogger });
    await store.open();
    try {
      const auth = store.auth(singleOwnerFence("shop-1" as SessionId));
      for (
        const bad of [
          "",
          ".",
          "..",
          "../../sentinel.txt",
          "../outside/creds.json",
          "/etc/passwd",
          "a/b",
          "..\\..\\sentinel.txt",
          "creds\0.json",
          ".tmp-1234",
          "x".repeat(201),
        ]
      ) {
        const label = JSON.stringify(bad);
        await assert.rejects(auth.read(bad), InvalidAuthFileNameError, label);
        await assert.rejects(
          auth.write(new Map([[bad, new Uint8Array([1])]])),
          InvalidAuthFileNameError,
          label,
        );
        await assert.rejects(auth.write(new Map([[bad, null]])), InvalidAuthFileNameError, label);
      }
      // One bad name fails the whole batch before anything is written.
      await assert.rejects(
        auth.write(new Map([["creds.json", new Uint8Array([1])], ["../x", null]])),
        InvalidAuthFileNameError,
      );
      assert.equal(await auth.exists(), false);
    } finally {
      await store.close();
    }
  });
});

Deno.test("a symlinked session folder is never followed", async () => {
  await withSentinels(async (dataDir, root) => {
    await Deno.mkdir(dataDir);
    await Deno.symlink(`${root}/outside`, `${dataDir}/evil`);
    const { logger, lines } = captureLogger();
    const store = new FileSessionStore({ dataDir, logger });
    const report = await store.open();
    try {
      assert.deepEqual(report.rebuiltFromAuth, []);
      assert.deepEqual(await store.listAuth(), []);
      const auth = store.auth(singleOwnerFence("evil" as SessionId));
      assert.equal(await auth.exists(), false);
      assert.equal(await auth.read("creds.json"), undefined);
      assert.deepEqual(await auth.list(), []);
      await assert.rejects(
        auth.write(new Map([["creds.json", new Uint8Array([1])]])),
        PersistenceError,
      );
      await assert.rejects(auth.write(new Map([["creds.json", null]])), PersistenceError);
      await auth.delete(); // removes the link, never what it points to
      assert.equal(await Deno.lstat(`${dataDir}/evil`).catch(() => null), null);
      assert.ok(lines.some((l) => l.entry === "evil" && l.symlink === true), "the link is logged");
    } finally {
      await store.close();
    }
  });
});

Deno.test("a symlinked auth file is never read", async () => {
  await withSentinels(async (dataDir, root) => {
    await Deno.mkdir(`${dataDir}/shop-1`, { recursive: true });
    await Deno.writeTextFile(`${dataDir}/shop-1/creds.json`, "inside");
    await Deno.symlink(`${root}/sentinel.txt`, `${dataDir}/shop-1/pre-key-1.json`);
    const store = new FileSessionStore({ dataDir, logger: silentLogger });
    await store.open();
    try {
      const auth = store.auth(singleOwnerFence("shop-1" as SessionId));
      assert.equal(await auth.read("pre-key-1.json"), undefined);
      assert.deepEqual(await auth.list(), ["creds.json"]);
      // Writing replaces the link itself.
      await auth.write(new Map([["pre-key-1.json", new TextEncoder().encode("new")]]));
      await store.flush();
      assert.equal(await Deno.readTextFile(`${dataDir}/shop-1/pre-key-1.json`), "new");
    } finally {
      await store.close();
    }
  });
});

Deno.test("data directory entries that are not valid session ids are ignored and logged", async () => {
  await withSentinels(async (dataDir) => {
    for (const name of ["not a session", "..hidden", "ａｂｃ", "x".repeat(65)]) {
      await Deno.mkdir(`${dataDir}/${name}`, { recursive: true });
      await Deno.writeTextFile(`${dataDir}/${name}/creds.json`, "{}");
    }
    await Deno.writeTextFile(`${dataDir}/stray-file`, "x");
    const { logger, lines } = captureLogger();
    const store = new FileSessionStore({ dataDir, logger });
    const report = await store.open();
    try {
      assert.deepEqual(report.sessions, []);
      assert.deepEqual(await store.listAuth(), []);
      const ignored = lines.filter((l) => l.msg.includes("not a session folder"));
      assert.ok(ignored.some((l) => l.entry === "not a session"));
      assert.ok(ignored.some((l) => l.entry === "stray-file"));
    } finally {
      await store.close();
    }
  });
});
