/**
 * The crash-consistency harness's own parts, on hand-written traces: what strace prints is
 * parsed right, and the model keeps after a crash exactly what POSIX promises, no more.
 */
import assert from "node:assert/strict";
import {
  crashTree,
  CURRENT,
  ENTRIES_EAGER,
  subsetChoices,
  SYNCED,
} from "../../support/crash_consistency/crash_states.ts";
import { type FrozenModel, FsModel } from "../../support/crash_consistency/fs_model.ts";
import { replayCalls } from "../../support/crash_consistency/syscall_replay.ts";
import { parseStrace } from "../../support/crash_consistency/syscall_trace.ts";

const ROOT = "/r";
const hex = (text: string) =>
  [...new TextEncoder().encode(text)].map((b) => `\\x${b.toString(16).padStart(2, "0")}`).join("");
const str = (text: string) => `"${hex(text)}"`;
const fd = (n: number, path: string) => `${n}<${hex(path)}>`;

/** A trace of `lines` (`%s` strings and `%fd` descriptors written with the helpers above). */
function model(lines: string[]): FrozenModel {
  const fsModel = FsModel.of(ROOT, {
    directories: new Set(["d"]),
    files: new Map([["d/old.json", new TextEncoder().encode("old")]]),
  });
  replayCalls(fsModel, parseStrace(lines.join("\n")), () => {});
  return fsModel.freeze(lines.length);
}

const text = (data: Uint8Array | undefined) => data && new TextDecoder().decode(data);

/** The calls of an atomic replace of d/old.json, with or without each sync. */
function atomicReplace(options: { syncFile: boolean; syncDir: boolean }): string[] {
  const tmp = "/r/d/.tmp-1";
  return [
    `1 openat(AT_FDCWD${hex("")}, ${str(tmp)}, O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = ${
      fd(5, tmp)
    }`,
    `1 fcntl(${fd(5, tmp)}, F_DUPFD_CLOEXEC, 3) = ${fd(6, tmp)}`,
    `2 write(${fd(6, tmp)}, ${str("new")}, 3) = 3`,
    ...(options.syncFile ? [`3 fsync(${fd(6, tmp)}) = 0`] : []),
    `1 close(${fd(6, tmp)}) = 0`,
    `1 close(${fd(5, tmp)}) = 0`,
    `2 rename(${str(tmp)}, ${str("/r/d/old.json")}) = 0`,
    `2 openat(AT_FDCWD<>, ${str("/r/d")}, O_RDONLY|O_CLOEXEC) = ${fd(7, "/r/d")}`,
    ...(options.syncDir ? [`3 fsync(${fd(7, "/r/d")}) = 0`] : []),
    `1 close(${fd(7, "/r/d")}) = 0`,
  ];
}

Deno.test("parseStrace() joins a call strace split around another thread's", () => {
  const calls = parseStrace([
    `7 fsync(${fd(5, "/r/a")} <unfinished ...>`,
    `8 write(1<${hex("pipe:[1]")}>, ${str("ack\n")}, 4) = 4`,
    `7 <... fsync resumed>) = 0`,
    `9 ???()                             = ?`,
    `9 +++ exited with 0 +++`,
  ].join("\n"));
  assert.deepEqual(calls.map((c) => [c.name, c.enteredAt, c.returnedAt, c.ret]), [
    ["write", 1, 1, "4"],
    ["fsync", 0, 2, "0"],
  ]);
  assert.deepEqual(calls[1].args, [fd(5, "/r/a")]);
});

Deno.test("parseStrace() drops the calls strace let go of or lost the name of as the process ended", () => {
  const calls = parseStrace([
    `7 openat(AT_FDCWD<${hex("/w")}>, ${str("/c")}, O_RDONLY|O_CLOEXEC <detached ...>`,
    `8 pwrite64(${fd(15, "/c/cache")}, ${str("page")}, 4, 0 <unfinished ...>`,
    `8 <... ??? resumed>)                = ?`,
    `9 fcntl(${fd(9, "/c/db")}, F_SETLK, {l_type=F_UNLCK, l_whence=SEEK_SET} <unfinished ...>`,
    `9 <... fcntl resumed> <detached ...>`,
    `10 fsync(${fd(5, "/r/a")}) = 0`,
  ].join("\n"));
  assert.deepEqual(calls.map((c) => [c.pid, c.name]), [[10, "fsync"]]);
});

Deno.test("an atomic replace survives a crash only once the file and then its directory are synced", () => {
  const done = model(atomicReplace({ syncFile: true, syncDir: true }));
  assert.equal(text(crashTree(done, SYNCED).files.get("d/old.json")), "new");
  assert.equal(crashTree(done, SYNCED).files.has("d/.tmp-1"), false);

  // No directory sync: the rename may be lost, and the old content comes back.
  const noDirSync = model(atomicReplace({ syncFile: true, syncDir: false }));
  assert.equal(text(crashTree(noDirSync, SYNCED).files.get("d/old.json")), "old");
  assert.equal(text(crashTree(noDirSync, ENTRIES_EAGER).files.get("d/old.json")), "new");

  // No file sync: the rename may survive with the new file empty.
  const noFileSync = model(atomicReplace({ syncFile: false, syncDir: true }));
  assert.equal(text(crashTree(noFileSync, SYNCED).files.get("d/old.json")), "");
  assert.equal(text(crashTree(noFileSync, CURRENT).files.get("d/old.json")), "new");
});

Deno.test("a sync counts only once it returns, and covers only what returned before it started", () => {
  const tmp = "/r/d/log";
  const calls = [
    `1 openat(AT_FDCWD<>, ${str(tmp)}, O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC, 0600) = ${fd(5, tmp)}`,
    `1 openat(AT_FDCWD<>, ${str("/r/d")}, O_RDONLY|O_CLOEXEC) = ${fd(6, "/r/d")}`,
    `1 fsync(${fd(6, "/r/d")}) = 0`,
    `1 write(${fd(5, tmp)}, ${str("one\n")}, 4) = 4`,
    `2 fdatasync(${fd(5, tmp)} <unfinished ...>`,
    `1 write(${fd(5, tmp)}, ${str("two\n")}, 4) = 4`,
  ];
  assert.equal(text(crashTree(model(calls), SYNCED).files.get("d/log")), "", "still running");
  // While it runs, what it would keep had it returned: to tell an acknowledgement too early.
  const running = FsModel.of(ROOT, { directories: new Set(["d"]), files: new Map() });
  const frozen: FrozenModel[] = [];
  replayCalls(
    running,
    parseStrace([...calls, `2 <... fdatasync resumed>) = 0`].join("\n")),
    (step) => {
      if (step.at === calls.length - 1) {
        frozen.push(running.freeze(step.at), running.freeze(step.at, { syncsReturned: true }));
      }
    },
  );
  assert.equal(text(crashTree(frozen[0], SYNCED).files.get("d/log")), "");
  assert.equal(text(crashTree(frozen[1], SYNCED).files.get("d/log")), "one\n");
  const returned = model([...calls, `2 <... fdatasync resumed>) = 0`]);
  assert.equal(text(crashTree(returned, SYNCED).files.get("d/log")), "one\n");
  assert.equal(text(crashTree(returned, CURRENT).files.get("d/log")), "one\ntwo\n");
});

Deno.test("subsetChoices() keeps each subset of a directory's unsynced changes, in order", () => {
  const frozen = model([
    `1 rename(${str("/r/d/old.json")}, ${str("/r/d/aside.json")}) = 0`,
    `1 mkdir(${str("/r/d/sub")}, 0700) = 0`,
  ]);
  const directory =
    [...frozen.inodes].find(([, node]) =>
      node.kind === "directory" && node.unsynced.length === 2
    )![0];
  const trees = subsetChoices(frozen, directory, 8, 1).map((choice) => {
    const tree = crashTree(frozen, choice);
    return [...tree.files.keys(), ...tree.directories].sort().join(" ");
  });
  assert.deepEqual(trees.sort(), [
    "d d/aside.json",
    "d d/aside.json d/sub",
    "d d/old.json",
    "d d/old.json d/sub",
  ]);
});
