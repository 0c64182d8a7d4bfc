/**
 * The states a crash at one moment could leave, built from a frozen {@linkcode FsModel}, as
 * trees of files that can be read in memory or written out to a directory to reopen a store on.
 */
import { dirname, join } from "node:path";
import { type SeededRandom, seededRandom } from "../prng.ts";
import type { EntryChange, FrozenDirectory, FrozenFile, FrozenModel } from "./fs_model.ts";
import type { RootContents } from "./root_contents.ts";

/** What a crash left: files and directories by path relative to the root (`a/b.json`). */
export interface CrashTree extends RootContents {
  /** How this state was chosen (`synced`, `entries-eager`, `torn#3`, …). */
  name: string;
}

/** How directory entries and file contents are chosen for one state. */
export interface Choice {
  name: string;
  entries: (dir: FrozenDirectory, model: FrozenModel) => ReadonlyMap<string, number>;
  data: (file: FrozenFile) => Uint8Array;
}

/** Only what was synced: every unsynced entry change and every unsynced write is lost. */
export const SYNCED: Choice = {
  name: "synced",
  entries: (dir) => dir.durable,
  data: (file) => file.durable,
};

/** Every entry change made it to disk, but no unsynced write did (files left empty or old). */
export const ENTRIES_EAGER: Choice = {
  name: "entries-eager",
  entries: (dir) => dir.current,
  data: (file) => file.durable,
};

/** Every unsynced write made it, but no unsynced entry change: for telling the two apart. */
export const DATA_EAGER: Choice = {
  name: "data-eager",
  entries: (dir) => dir.durable,
  data: (file) => file.current,
};

/**
 * Every entry change made it whose file's content was synced (and every removal), no unsynced
 * write did: what a sync of each directory at the right time would have kept.
 */
export const ENTRIES_OF_SYNCED_DATA: Choice = {
  name: "entries-of-synced-data",
  entries: (dir, model) =>
    applyChanges(
      dir.durable,
      dir.unsynced.filter((change) => {
        if (change.kind === "unlink") return true;
        const node = model.inodes.get(change.inode)!;
        return node.kind === "directory" || node.durable === node.current;
      }),
    ),
  data: (file) => file.durable,
};

/** What the process saw: no crash at all. */
export const CURRENT: Choice = {
  name: "current",
  entries: (dir) => dir.current,
  data: (file) => file.current,
};

/**
 * A random mix: each unsynced entry change survives or not on its own, and each file keeps its
 * synced content plus, when it only grew since, a random part of what was appended (a torn
 * write).
 */
export function randomChoice(seed: number): Choice {
  const random = seededRandom(seed);
  return {
    name: `mixed#${seed}`,
    entries: (dir) => applyChanges(dir.durable, dir.unsynced.filter(() => random.chance(0.5))),
    data: (file) => tornData(file, random),
  };
}

/** Every entry change survived; files that grew keep a random part of what was appended. */
export function tornChoice(seed: number): Choice {
  const random = seededRandom(seed);
  return { name: `torn#${seed}`, entries: (dir) => dir.current, data: (f) => tornData(f, random) };
}

/**
 * Crashes just as a directory's sync starts, each keeping another subset of that directory's
 * unsynced entry changes (every other directory and every file as synced): every subset when
 * there are few, else `limit` random ones. Where an order of renames matters, this finds it.
 */
export function subsetChoices(
  model: FrozenModel,
  directory: number,
  limit: number,
  seed: number,
): Choice[] {
  const node = model.inodes.get(directory);
  if (node?.kind !== "directory" || node.unsynced.length === 0) return [];
  const count = node.unsynced.length;
  const random = seededRandom(seed);
  const subsets: boolean[][] = 2 ** count <= limit
    ? Array.from(
      { length: 2 ** count },
      (_, mask) => Array.from({ length: count }, (_, i) => ((mask >> i) & 1) === 1),
    )
    : Array.from({ length: limit }, () => Array.from({ length: count }, () => random.chance(0.5)));
  return subsets.map((kept) => ({
    name: `subset ${kept.map((k) => (k ? 1 : 0)).join("")} of a directory's changes`,
    entries: (dir) =>
      dir === node
        ? applyChanges(dir.durable, dir.unsynced.filter((_, i) => kept[i]))
        : dir.durable,
    data: (file) => file.durable,
  }));
}

/**
 * The tree a crash leaves under one choice. A directory reached twice (possible when only one
 * half of a rename across directories survived) is listed under its first path only.
 *
 * @example
 * ```ts
 * const tree = crashTree(frozen, SYNCED);
 * tree.files.get("data/sessions-metadata.json");
 * ```
 */
export function crashTree(model: FrozenModel, choice: Choice): CrashTree {
  const tree: CrashTree = { name: choice.name, directories: new Set(), files: new Map() };
  const seen = new Set<number>();
  const walk = (inode: number, path: string) => {
    const node = model.inodes.get(inode)!;
    if (node.kind === "file") {
      tree.files.set(path, choice.data(node));
      return;
    }
    if (seen.has(inode)) return;
    seen.add(inode);
    if (path !== "") tree.directories.add(path);
    const entries = [...choice.entries(node, model)].sort(([a], [b]) => (a < b ? -1 : 1));
    for (const [name, child] of entries) walk(child, path === "" ? name : `${path}/${name}`);
  };
  walk(model.root, "");
  return tree;
}

/**
 * Writes a crash tree out under `dir` (which must exist and be empty).
 *
 * @example
 * ```ts
 * await materialize(crashTree(frozen, SYNCED), await Deno.makeTempDir());
 * ```
 */
export async function materialize(tree: CrashTree, dir: string): Promise<void> {
  for (const path of [...tree.directories].sort()) {
    await Deno.mkdir(join(dir, path), { recursive: true, mode: 0o700 });
  }
  for (const [path, data] of tree.files) {
    await Deno.mkdir(join(dir, dirname(path)), { recursive: true, mode: 0o700 });
    await Deno.writeFile(join(dir, path), data, { mode: 0o600 });
  }
}

/** Files directly inside `dir` of a tree (relative paths, sorted). */
export function filesIn(tree: CrashTree, dir: string): string[] {
  const prefix = dir === "" ? "" : `${dir}/`;
  return [...tree.files.keys()]
    .filter((path) => path.startsWith(prefix) && !path.slice(prefix.length).includes("/"))
    .sort();
}

function applyChanges(
  base: ReadonlyMap<string, number>,
  changes: readonly EntryChange[],
): Map<string, number> {
  const entries = new Map(base);
  for (const change of changes) {
    if (change.kind === "link") entries.set(change.name, change.inode);
    else if (change.kind === "unlink") entries.delete(change.name);
    else {
      // A rename whose source never became durable still names its inode at the target.
      if (entries.get(change.from) === change.inode) entries.delete(change.from);
      entries.set(change.to, change.inode);
    }
  }
  return entries;
}

function tornData(file: FrozenFile, random: SeededRandom): Uint8Array {
  const { durable, current } = file;
  if (current.length <= durable.length || !startsWith(current, durable)) return durable;
  return current.subarray(0, random.int(durable.length, current.length));
}

function startsWith(data: Uint8Array, prefix: Uint8Array): boolean {
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}
