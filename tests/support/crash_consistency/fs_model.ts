/**
 * A model of what a process did to the files under one root directory, replayed from its system
 * calls, that knows at every moment what a crash would keep. It assumes no more than POSIX
 * promises:
 *
 * - a file's content survives a crash only as of the last `fsync`/`fdatasync` of that file that
 *   had returned (a write after it may be lost, or survive in part, torn);
 * - a directory's entries (files created, renamed, removed in it) survive only as of the last
 *   `fsync` of the directory itself; each entry change made since may or may not survive,
 *   independently of the others;
 * - a sync covers what had returned before the sync was called, and counts once it returns.
 *
 * Paths outside the root are not modelled. What the root held before the process started is
 * taken as durable.
 */
import { join, relative, resolve } from "node:path";
import {
  descriptorNumber,
  descriptorPath,
  stringBytes,
  succeeded,
  type Syscall,
} from "./syscall_trace.ts";

/** A change to a directory's entries, not yet made durable by a sync of the directory. */
export type EntryChange =
  | { kind: "link"; name: string; inode: number }
  | { kind: "unlink"; name: string }
  | { kind: "rename"; from: string; to: string; inode: number };

/** What a crash could keep of one directory. */
export interface FrozenDirectory {
  kind: "directory";
  /** The entries as of its last sync. */
  durable: ReadonlyMap<string, number>;
  /** Changes since, in order. */
  unsynced: readonly EntryChange[];
  /** The entries as the process saw them. */
  current: ReadonlyMap<string, number>;
}

/** What a crash could keep of one file. */
export interface FrozenFile {
  kind: "file";
  durable: Uint8Array;
  current: Uint8Array;
}

/** What a root directory holds: directories and files by relative path (`a`, `a/b.json`). */
export interface RootContents {
  directories: Set<string>;
  files: Map<string, Uint8Array>;
}

/**
 * Reads what a directory holds (symlinks and other special files are not expected there).
 *
 * @example
 * ```ts
 * const before = await readRootContents(root);
 * ```
 */
export async function readRootContents(root: string): Promise<RootContents> {
  const contents: RootContents = { directories: new Set(), files: new Map() };
  const walk = async (relativePath: string) => {
    for await (const entry of Deno.readDir(join(root, relativePath))) {
      const path = relativePath ? `${relativePath}/${entry.name}` : entry.name;
      if (entry.isDirectory) {
        contents.directories.add(path);
        await walk(path);
      } else if (entry.isFile) {
        contents.files.set(path, await Deno.readFile(join(root, path)));
      } else {
        throw new Error(`${path} in the modelled root is neither a file nor a directory`);
      }
    }
  };
  await walk("");
  return contents;
}

/** The model at one moment, frozen: what every crash state is built from. */
export interface FrozenModel {
  /** Trace line this moment is right after. */
  at: number;
  root: number;
  inodes: ReadonlyMap<number, FrozenDirectory | FrozenFile>;
}

interface Directory {
  kind: "directory";
  durable: Map<string, number>;
  durableSeq: number;
  unsynced: (EntryChange & { seq: number })[];
  current: Map<string, number>;
}

interface File {
  kind: "file";
  durable: Uint8Array;
  durableSeq: number;
  current: Uint8Array;
}

/** An open file description: descriptors made by `dup` share one. */
interface Description {
  inode: number;
  offset: number;
  append: boolean;
}

type Step = { at: number; phase: "enter" | "return"; call: Syscall };

/** A sync that has started: the state it makes durable once it returns. */
interface PendingSync {
  inode: number;
  /** The change counter when it started: it covers what changed before. */
  seq: number;
  data?: Uint8Array;
  entries?: Map<string, number>;
}

/** Calls the model understands; others on a modelled path make the replay fail, loudly. */
export const TRACED_CALLS = [
  "openat",
  "open",
  "creat",
  "close",
  "fcntl",
  "dup",
  "dup2",
  "dup3",
  "write",
  "pwrite64",
  "writev",
  "pwritev",
  "pwritev2",
  "ftruncate",
  "truncate",
  "fsync",
  "fdatasync",
  "sync_file_range",
  "rename",
  "renameat",
  "renameat2",
  "unlink",
  "unlinkat",
  "rmdir",
  "mkdir",
  "mkdirat",
  "link",
  "linkat",
  "symlink",
  "symlinkat",
  "copy_file_range",
  "sendfile",
  "lseek",
] as const;

/**
 * Replays calls into the model. `observe` is called at each step with the step and the model,
 * which it may freeze.
 *
 * @example
 * ```ts
 * const model = FsModel.of(root, await readRootContents(root));
 * model.replay(calls, (step) => { if (isAck(step)) snapshots.push(model.freeze(step.at)); });
 * ```
 */
export class FsModel {
  readonly #root: string;
  readonly #inodes = new Map<number, Directory | File>();
  readonly #descriptors = new Map<number, Description | null>();
  /** Syncs that have started: what they will make durable once they return. */
  readonly #syncing = new Map<Syscall, PendingSync>();
  #nextInode = 1;
  #seq = 0;
  /** Bumped on every change a crash could see: data, entries, a sync returning. */
  #version = 0;
  #directorySyncStarted: number | null = null;
  readonly #rootInode: number;

  private constructor(root: string) {
    this.#root = resolve(root);
    this.#rootInode = this.#newDirectory();
  }

  /**
   * A model of `root` holding `tree` (what the root held before the process started), all of
   * it durable.
   */
  static of(root: string, tree: RootContents): FsModel {
    const model = new FsModel(root);
    const inodeOf = new Map<string, number>([["", model.#rootInode]]);
    const parentOf = (path: string) => {
      const slash = path.lastIndexOf("/");
      const parent = model.#directory(inodeOf.get(slash < 0 ? "" : path.slice(0, slash))!);
      return { parent, name: path.slice(slash + 1) };
    };
    const add = (path: string, inode: number) => {
      const { parent, name } = parentOf(path);
      parent.current.set(name, inode);
      parent.durable.set(name, inode);
      inodeOf.set(path, inode);
    };
    for (const path of [...tree.directories].sort()) add(path, model.#newDirectory());
    for (const [path, data] of tree.files) add(path, model.#newFile(data));
    return model;
  }

  /** Replays the calls in the order strace saw them start and return. */
  replay(calls: readonly Syscall[], observe: (step: Step) => void): void {
    const steps: Step[] = [];
    for (const call of calls) {
      steps.push({ at: call.enteredAt, phase: "enter", call });
      steps.push({ at: call.returnedAt, phase: "return", call });
    }
    // Stable: a call printed in one line enters before it returns.
    steps.sort((a, b) => a.at - b.at || (a.phase === b.phase ? 0 : a.phase === "enter" ? -1 : 1));
    for (const step of steps) {
      this.#directorySyncStarted = null;
      try {
        if (step.phase === "enter") this.#enter(step.call);
        else if (succeeded(step.call)) this.#return(step.call);
      } catch (error) {
        throw new Error(
          `replaying ${step.call.name}(${step.call.args.join(", ").slice(0, 200)}) at trace line ` +
            `${step.at}: ${(error as Error).message}`,
          { cause: error },
        );
      }
      observe(step);
    }
  }

  /** The directory whose sync the last step started, or `null`. */
  get directorySyncStarted(): number | null {
    return this.#directorySyncStarted;
  }

  /** Changes with every change a crash could tell apart (so a new crash point is worth it). */
  get version(): number {
    return this.#version;
  }

  /**
   * The model as it is now, for building crash states later; with `syncsReturned`, as if every
   * sync that has started had returned (to tell an acknowledgement that came too early).
   */
  freeze(at: number, options: { syncsReturned?: boolean } = {}): FrozenModel {
    const inodes = new Map<number, FrozenDirectory | FrozenFile>();
    for (const [id, inode] of this.#inodes) {
      inodes.set(
        id,
        inode.kind === "directory"
          ? {
            kind: "directory",
            durable: new Map(inode.durable),
            unsynced: inode.unsynced.slice(),
            current: new Map(inode.current),
          }
          : { kind: "file", durable: inode.durable, current: inode.current },
      );
    }
    if (options.syncsReturned) {
      for (const sync of this.#syncing.values()) {
        const node = inodes.get(sync.inode)!;
        if (node.kind === "file") inodes.set(sync.inode, { ...node, durable: sync.data! });
        else {
          const live = this.#directory(sync.inode);
          inodes.set(sync.inode, {
            ...node,
            durable: new Map(sync.entries!),
            unsynced: live.unsynced.filter((change) => change.seq > sync.seq),
          });
        }
      }
    }
    return { at, root: this.#rootInode, inodes };
  }

  /** Whether a path (absolute) is inside the modelled root. */
  #inside(path: string): boolean {
    const rel = relative(this.#root, path);
    return rel === "" || (!rel.startsWith("..") && !rel.startsWith("/"));
  }

  #enter(call: Syscall): void {
    switch (call.name) {
      case "close":
        // At entry: once close is called the number may be handed out again, by another thread.
        this.#descriptors.delete(descriptorNumber(call.args[0]));
        return;
      case "fsync":
      case "fdatasync": {
        const description = this.#description(call.args[0]);
        if (!description) return;
        this.#syncing.set(call, this.#syncOf(description.inode));
        if (this.#inodes.get(description.inode)!.kind === "directory") {
          this.#directorySyncStarted = description.inode;
        }
        return;
      }
      case "sync_file_range":
        if (this.#description(call.args[0])) {
          throw new Error("sync_file_range makes nothing durable; the model does not allow it");
        }
        return;
    }
  }

  #return(call: Syscall): void {
    const [a0, a1, a2, a3] = call.args;
    switch (call.name) {
      case "openat":
        return this.#open(this.#at(a0, a1), a2, call.ret);
      case "open":
        return this.#open(this.#at("AT_FDCWD", a0), a1, call.ret);
      case "creat":
        return this.#open(this.#at("AT_FDCWD", a0), "O_WRONLY|O_CREAT|O_TRUNC", call.ret);
      case "fcntl":
        if (/^F_DUPFD/.test(a1)) this.#dup(a0, call.ret);
        return;
      case "dup":
      case "dup2":
      case "dup3":
        return this.#dup(a0, call.ret);
      case "write":
        return this.#write(a0, stringBytes(a1).subarray(0, Number(call.ret)));
      case "pwrite64":
        return this.#write(a0, stringBytes(a1).subarray(0, Number(call.ret)), Number(a3));
      case "writev":
      case "pwritev":
      case "pwritev2":
      case "copy_file_range":
      case "sendfile":
      case "link":
      case "linkat":
      case "symlink":
      case "symlinkat":
      case "truncate":
        if (call.args.some((arg) => this.#touches(arg))) {
          throw new Error(`${call.name} on a modelled path is not modelled`);
        }
        return;
      case "lseek":
        if (this.#description(a0)) throw new Error("lseek on a modelled file is not modelled");
        return;
      case "ftruncate":
        return this.#truncate(a0, Number(a1));
      case "fsync":
      case "fdatasync":
        this.#commitSync(this.#syncing.get(call));
        this.#syncing.delete(call);
        return;
      case "rename":
        return this.#rename(this.#at("AT_FDCWD", a0), this.#at("AT_FDCWD", a1));
      case "renameat":
      case "renameat2":
        return this.#rename(this.#at(a0, a1), this.#at(a2, a3));
      case "unlink":
        return this.#unlink(this.#at("AT_FDCWD", a0));
      case "rmdir":
        return this.#unlink(this.#at("AT_FDCWD", a0));
      case "unlinkat":
        return this.#unlink(this.#at(a0, a1));
      case "mkdir":
        return this.#mkdir(this.#at("AT_FDCWD", a0));
      case "mkdirat":
        return this.#mkdir(this.#at(a0, a1));
    }
  }

  /** The absolute path a (dirfd, path) pair names. */
  #at(dirArg: string, pathArg: string): string {
    const path = new TextDecoder().decode(stringBytes(pathArg));
    if (path.startsWith("/")) return resolve(path);
    const base = descriptorPath(dirArg);
    if (base === null) throw new Error(`no path for the directory descriptor ${dirArg}`);
    return resolve(base, path);
  }

  #touches(arg: string): boolean {
    if (arg.startsWith('"')) {
      const path = new TextDecoder().decode(stringBytes(arg));
      return path.startsWith("/") && this.#inside(path);
    }
    const path = descriptorPath(arg);
    return path !== null && this.#inside(path.replace(/ \(deleted\)$/, ""));
  }

  #open(path: string, flags: string, ret: string): void {
    const fd = descriptorNumber(ret);
    if (!this.#inside(path)) {
      this.#descriptors.set(fd, null);
      return;
    }
    const { parent, name } = this.#parentOf(path);
    let inode = name === "" ? this.#rootInode : parent.current.get(name);
    if (inode === undefined) {
      if (!flags.includes("O_CREAT")) throw new Error(`${path} opened but not in the model`);
      inode = this.#newFile(new Uint8Array());
      this.#link(parent, name, inode);
    } else if (flags.includes("O_TRUNC")) {
      this.#setData(inode, new Uint8Array());
    }
    this.#descriptors.set(fd, { inode, offset: 0, append: flags.includes("O_APPEND") });
  }

  #dup(fromArg: string, ret: string): void {
    this.#descriptors.set(descriptorNumber(ret), this.#description(fromArg));
  }

  #write(fdArg: string, bytes: Uint8Array, at?: number): void {
    const description = this.#description(fdArg);
    if (!description) return;
    const file = this.#file(description.inode);
    const offset = at ?? (description.append ? file.current.length : description.offset);
    const next = new Uint8Array(Math.max(file.current.length, offset + bytes.length));
    next.set(file.current);
    next.set(bytes, offset);
    this.#setData(description.inode, next);
    if (at === undefined) description.offset = offset + bytes.length;
  }

  #truncate(fdArg: string, length: number): void {
    const description = this.#description(fdArg);
    if (!description) return;
    const file = this.#file(description.inode);
    const next = new Uint8Array(length);
    next.set(file.current.subarray(0, length));
    this.#setData(description.inode, next);
  }

  #rename(from: string, to: string): void {
    const inside = [this.#inside(from), this.#inside(to)];
    if (!inside[0] && !inside[1]) return;
    if (!inside[0] || !inside[1]) {
      throw new Error(`rename across the model's edge: ${from} → ${to}`);
    }
    const source = this.#parentOf(from);
    const target = this.#parentOf(to);
    const inode = source.parent.current.get(source.name);
    if (inode === undefined) throw new Error(`${from} renamed but not in the model`);
    if (source.parent === target.parent) {
      source.parent.current.delete(source.name);
      source.parent.current.set(target.name, inode);
      this.#change(source.parent, { kind: "rename", from: source.name, to: target.name, inode });
    } else {
      this.#unlinkEntry(source.parent, source.name);
      this.#link(target.parent, target.name, inode);
    }
  }

  #unlink(path: string): void {
    if (!this.#inside(path)) return;
    const { parent, name } = this.#parentOf(path);
    if (!parent.current.has(name)) throw new Error(`${path} removed but not in the model`);
    this.#unlinkEntry(parent, name);
  }

  #mkdir(path: string): void {
    if (!this.#inside(path)) return;
    const { parent, name } = this.#parentOf(path);
    this.#link(parent, name, this.#newDirectory());
  }

  #link(parent: Directory, name: string, inode: number): void {
    parent.current.set(name, inode);
    this.#change(parent, { kind: "link", name, inode });
  }

  #unlinkEntry(parent: Directory, name: string): void {
    parent.current.delete(name);
    this.#change(parent, { kind: "unlink", name });
  }

  #change(parent: Directory, change: EntryChange): void {
    parent.unsynced.push({ ...change, seq: ++this.#seq });
    this.#version++;
  }

  /** What a sync of `inode` that starts now makes durable when it returns. */
  #syncOf(inode: number): PendingSync {
    const node = this.#inodes.get(inode)!;
    return node.kind === "file"
      ? { inode, seq: this.#seq, data: node.current }
      : { inode, seq: this.#seq, entries: new Map(node.current) };
  }

  #commitSync(sync: PendingSync | undefined): void {
    if (!sync) return;
    const node = this.#inodes.get(sync.inode)!;
    if (sync.seq < node.durableSeq) return;
    node.durableSeq = sync.seq;
    if (node.kind === "file") node.durable = sync.data!;
    else {
      node.durable = sync.entries!;
      node.unsynced = node.unsynced.filter((change) => change.seq > sync.seq);
    }
    this.#version++;
  }

  #setData(inode: number, data: Uint8Array): void {
    const file = this.#file(inode);
    file.current = data;
    this.#seq++;
    this.#version++;
  }

  #description(fdArg: string): Description | null {
    const fd = descriptorNumber(fdArg);
    const known = this.#descriptors.get(fd);
    if (known !== undefined) return known;
    // A descriptor opened before tracing began (stdout) or outside the calls traced.
    const path = descriptorPath(fdArg);
    if (path !== null && this.#inside(path)) {
      throw new Error(`descriptor ${fd} on ${path} was opened outside the trace`);
    }
    return null;
  }

  #parentOf(path: string): { parent: Directory; name: string } {
    const parts = relative(this.#root, path).split("/").filter((part) => part !== "");
    const name = parts.pop() ?? "";
    let inode = this.#rootInode;
    for (const part of parts) {
      const next = this.#directory(inode).current.get(part);
      if (next === undefined) throw new Error(`${path}: ${part} is not in the model`);
      inode = next;
    }
    return { parent: this.#directory(inode), name };
  }

  #directory(inode: number): Directory {
    const node = this.#inodes.get(inode);
    if (node?.kind !== "directory") throw new Error(`inode ${inode} is not a directory`);
    return node;
  }

  #file(inode: number): File {
    const node = this.#inodes.get(inode);
    if (node?.kind !== "file") throw new Error(`inode ${inode} is not a file`);
    return node;
  }

  #newDirectory(): number {
    const id = this.#nextInode++;
    this.#inodes.set(id, {
      kind: "directory",
      durable: new Map(),
      durableSeq: 0,
      unsynced: [],
      current: new Map(),
    });
    return id;
  }

  #newFile(data: Uint8Array): number {
    const id = this.#nextInode++;
    this.#inodes.set(id, { kind: "file", durable: data, durableSeq: 0, current: data });
    return id;
  }
}
