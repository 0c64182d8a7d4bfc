/**
 * A model of what a process did to the files under one root directory (fed by
 * `syscall_replay.ts` from its system calls), that knows at every moment what a crash would
 * keep. It assumes no more than POSIX
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
import { relative, resolve } from "node:path";
import type { RootContents } from "./root_contents.ts";

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

/** A sync that has started: the state it makes durable once it returns. */
interface PendingSync {
  inode: number;
  /** The change counter when it started: it covers what changed before. */
  seq: number;
  data?: Uint8Array;
  entries?: Map<string, number>;
}

/**
 * The model: files and directories by inode, each with what the process sees and what a crash
 * keeps, and the open descriptors. Its methods are the effects of system calls.
 *
 * @example
 * ```ts
 * const model = FsModel.of(root, await readRootContents(root));
 * replayCalls(model, calls, (step) => { if (isAck(step)) frozen.push(model.freeze(step.at)); });
 * ```
 */
export class FsModel {
  readonly #root: string;
  readonly #inodes = new Map<number, Directory | File>();
  readonly #descriptors = new Map<number, Description | null>();
  /** Syncs that have started: what they will make durable once they return. */
  readonly #syncing = new Map<object, PendingSync>();
  #nextInode = 1;
  #seq = 0;
  /** Bumped on every change a crash could see: data, entries, a sync returning. */
  #version = 0;
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
  inside(path: string): boolean {
    const rel = relative(this.#root, path);
    return rel === "" || (!rel.startsWith("..") && !rel.startsWith("/"));
  }

  /** Whether descriptor `fd` is one the model has seen opened (modelled or not). */
  knows(fd: number): boolean {
    return this.#descriptors.has(fd);
  }

  /** Whether descriptor `fd` is open on a modelled file or directory. */
  tracks(fd: number): boolean {
    return Boolean(this.#descriptors.get(fd));
  }

  /** `open` returned `fd` for `path` (outside the root: remembered, not modelled). */
  open(fd: number, path: string, flags: { create: boolean; truncate: boolean; append: boolean }) {
    if (!this.inside(path)) {
      this.#descriptors.set(fd, null);
      return;
    }
    const { parent, name } = this.#parentOf(path);
    let inode = name === "" ? this.#rootInode : parent.current.get(name);
    if (inode === undefined) {
      if (!flags.create) throw new Error(`${path} opened but not in the model`);
      inode = this.#newFile(new Uint8Array());
      this.#link(parent, name, inode);
    } else if (flags.truncate) {
      this.#setData(inode, new Uint8Array());
    }
    this.#descriptors.set(fd, { inode, offset: 0, append: flags.append });
  }

  /** `dup` made `to` a copy of `from` (sharing its offset). */
  dup(from: number, to: number): void {
    this.#descriptors.set(to, this.#descriptors.get(from) ?? null);
  }

  /** `close(fd)` was called. */
  close(fd: number): void {
    this.#descriptors.delete(fd);
  }

  /** A write of `bytes` through `fd` returned, at its offset or at `at` (`pwrite`). */
  write(fd: number, bytes: Uint8Array, at?: number): void {
    const description = this.#descriptors.get(fd);
    if (!description) return;
    const file = this.#file(description.inode);
    const offset = at ?? (description.append ? file.current.length : description.offset);
    const next = new Uint8Array(Math.max(file.current.length, offset + bytes.length));
    next.set(file.current);
    next.set(bytes, offset);
    this.#setData(description.inode, next);
    if (at === undefined) description.offset = offset + bytes.length;
  }

  /** `ftruncate(fd, length)` returned. */
  truncate(fd: number, length: number): void {
    const description = this.#descriptors.get(fd);
    if (!description) return;
    const file = this.#file(description.inode);
    const next = new Uint8Array(length);
    next.set(file.current.subarray(0, length));
    this.#setData(description.inode, next);
  }

  /**
   * A sync of `fd` started (`key` names it until it returns); returns the directory it syncs,
   * or `null` for a file or an unmodelled descriptor.
   */
  startSync(key: object, fd: number): number | null {
    const description = this.#descriptors.get(fd);
    if (!description) return null;
    this.#syncing.set(key, this.#syncOf(description.inode));
    return this.#inodes.get(description.inode)!.kind === "directory" ? description.inode : null;
  }

  /** The sync started with `key` returned: what it covered is durable now. */
  endSync(key: object): void {
    this.#commitSync(this.#syncing.get(key));
    this.#syncing.delete(key);
  }

  /** `rename(from, to)` returned. */
  rename(from: string, to: string): void {
    const inside = [this.inside(from), this.inside(to)];
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

  /** `unlink`/`rmdir` of `path` returned. */
  unlink(path: string): void {
    if (!this.inside(path)) return;
    const { parent, name } = this.#parentOf(path);
    if (!parent.current.has(name)) throw new Error(`${path} removed but not in the model`);
    this.#unlinkEntry(parent, name);
  }

  /** `mkdir(path)` returned. */
  mkdir(path: string): void {
    if (!this.inside(path)) return;
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
