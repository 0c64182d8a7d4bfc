/**
 * The crash-consistency harness. A workload is a child script that does durable writes through
 * the gateway's real code and prints `ack <json>` on stdout once each write has resolved (see
 * `acknowledge()`). The harness runs it under strace and replays the trace into a model of what
 * a crash could keep (`fs_model.ts`), then:
 *
 * 1. **Order check**, at every acknowledgement: the state a crash right after it would leave,
 *    keeping only what was synced, must hold what it acknowledged. When it does not, the failure
 *    says which rule broke: the data was not synced before it was acknowledged (or renamed into
 *    place), or a directory was not synced after a rename or a create, or the acknowledgement
 *    came while the sync that would have made it durable had not returned yet.
 * 2. **Crash-state check**, at sampled moments: several states a crash could leave there (only
 *    what was synced; every entry change but no unsynced data; random mixes with torn appends)
 *    are written out to directories, and the workload reopens each as the next start would and
 *    checks every write acknowledged before that moment.
 *
 * A new durable write path needs one workload file in `workloads/` and one line in the test.
 */
import {
  type Choice,
  type CrashTree,
  crashTree,
  CURRENT,
  DATA_EAGER,
  ENTRIES_EAGER,
  ENTRIES_OF_SYNCED_DATA,
  materialize,
  randomChoice,
  subsetChoices,
  SYNCED,
  tornChoice,
} from "./crash_states.ts";
import { type FrozenModel, FsModel } from "./fs_model.ts";
import { readRootContents, type RootContents } from "./root_contents.ts";
import { replayCalls } from "./syscall_replay.ts";
import { traceDenoScript } from "./strace.ts";
import { descriptorNumber, stringBytes, type Syscall } from "./syscall_trace.ts";

/** One `ack <json>` line of the child, and where in the trace it was printed. */
export interface Ack {
  value: Record<string, unknown>;
  /** The trace line where the child started writing it. */
  at: number;
}

/** A durable write path under test. */
export interface CrashWorkload {
  name: string;
  /** The child script (it calls `acknowledge()` after each durable write resolved). */
  script: URL;
  /** Lays out what the root holds before the child starts. */
  setup(root: string): Promise<void>;
  /** The child's arguments. */
  args(root: string): string[];
  /** More `deno run` flags for the child (`--allow-net=…` to reach a test database). */
  denoFlags?: string[];
  /** Fewer acknowledgements than this means the child did not do its job. */
  minAcks: number;
  /** Moments at which crash states are built and reopened (default 24). */
  crashPoints?: number;
  /**
   * What `ack` promised, judged on a crash tree (files by path relative to the root): a
   * sentence saying what is missing, or `null`.
   */
  promised(
    ack: Ack,
    tree: CrashTree,
    earlier: readonly Ack[],
  ): string | null | Promise<string | null>;
  /**
   * Opens what a crash left in `root` as the next start would, and checks every write
   * acknowledged before the crash: a sentence saying what is wrong, or `null`.
   */
  recover(root: string, acks: readonly Ack[]): Promise<string | null>;
}

/** Options of {@linkcode runCrashHarness}. */
export interface HarnessOptions {
  /** Moments at which crash states are built and reopened (default: the workload's). */
  crashPoints?: number;
  /** Seeds the choice of moments and of random states, so a failure can be replayed. */
  seed?: number;
}

/** What {@linkcode runCrashHarness} found. */
export interface HarnessReport {
  acks: number;
  crashStates: number;
  /** Every broken promise, each with where in the trace and in which state. */
  problems: string[];
}

const MAX_PROBLEMS = 12;
/** States built at each directory sync, from subsets of its unsynced entry changes. */
const SUBSETS_PER_SYNC = 8;
/** Directory syncs crashed at, at most (evenly spread over the trace). */
const MAX_DIRECTORY_SYNCS = 48;

/**
 * Runs a workload under strace and checks it (see the module doc).
 *
 * @example
 * ```ts
 * const report = await runCrashHarness(metadataWorkload);
 * assert.deepEqual(report.problems, []);
 * ```
 */
export async function runCrashHarness(
  workload: CrashWorkload,
  options: HarnessOptions = {},
): Promise<HarnessReport> {
  const crashPoints = options.crashPoints ?? workload.crashPoints ?? 24;
  const seed = options.seed ?? 1;
  const root = await Deno.makeTempDir({ prefix: `wa-gateway-crash-${workload.name}-` });
  try {
    await workload.setup(root);
    const before = await readRootContents(root);
    const run = await traceDenoScript(
      workload.script,
      root,
      workload.args(root),
      {},
      workload.denoFlags,
    );
    if (run.code !== 0) {
      throw new Error(`the ${workload.name} child exited ${run.code}:\n${run.stderr}`);
    }
    const problems: string[] = [];
    const { acks, moments, beforeDirectorySyncs } = await orderCheck(
      workload,
      root,
      before,
      run.calls,
      problems,
    );
    if (acks.length < workload.minAcks) {
      problems.push(`only ${acks.length} acknowledgements (at least ${workload.minAcks} expected)`);
    }
    const chosen = pickMoments(moments, crashPoints, seed);
    const frozen = freezeAt(root, before, run.calls, chosen);
    const crashes: { model: FrozenModel; choices: Choice[] }[] = frozen.map((model, index) => ({
      model,
      choices: [SYNCED, ENTRIES_EAGER, randomChoice(seed * 1000 + index), tornChoice(index)],
    }));
    const syncs = spread(beforeDirectorySyncs, MAX_DIRECTORY_SYNCS);
    for (const [index, { frozen, directory }] of syncs.entries()) {
      const choices = subsetChoices(frozen, directory, SUBSETS_PER_SYNC, seed * 7 + index);
      crashes.push({ model: frozen, choices });
    }
    let crashStates = 0;
    for (const { model, choices } of crashes) {
      const acked = acks.filter((ack) => ack.at <= model.at);
      for (const choice of choices) {
        if (problems.length >= MAX_PROBLEMS) break;
        const tree = crashTree(model, choice);
        const problem = await reopen(workload, tree, acked);
        crashStates++;
        if (problem) {
          problems.push(`crash after trace line ${model.at} (${tree.name} state): ${problem}`);
        }
      }
    }
    return { acks: acks.length, crashStates, problems };
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

/** Checks every acknowledgement at its moment; returns them and the moments worth a crash. */
async function orderCheck(
  workload: CrashWorkload,
  root: string,
  before: RootContents,
  calls: readonly Syscall[],
  problems: string[],
): Promise<{
  acks: Ack[];
  moments: number[];
  beforeDirectorySyncs: { frozen: FrozenModel; directory: number }[];
}> {
  const acks: Ack[] = [];
  const moments: number[] = [];
  const atAcks: { ack: Ack; frozen: FrozenModel; ifSyncsReturned: FrozenModel | null }[] = [];
  const beforeDirectorySyncs: { frozen: FrozenModel; directory: number }[] = [];
  const syncing = new Set<Syscall>();
  const model = FsModel.of(root, before);
  let version = model.version;
  replayCalls(model, calls, (step) => {
    const { call } = step;
    if (call.name === "fsync" || call.name === "fdatasync") {
      if (step.phase === "enter") syncing.add(call);
      else syncing.delete(call);
    }
    if (model.version !== version) {
      version = model.version;
      moments.push(step.at);
    }
    if (step.directorySync !== null) {
      beforeDirectorySyncs.push({ frozen: model.freeze(step.at), directory: step.directorySync });
    }
    if (step.phase !== "enter") return;
    for (const value of acksOf(call)) {
      const ack = { value, at: step.at };
      atAcks.push({
        ack,
        frozen: model.freeze(step.at),
        ifSyncsReturned: syncing.size > 0 ? model.freeze(step.at, { syncsReturned: true }) : null,
      });
      acks.push(ack);
      moments.push(step.at);
    }
  });
  for (const [index, { ack, frozen, ifSyncsReturned }] of atAcks.entries()) {
    if (problems.length >= MAX_PROBLEMS) break;
    const earlier = acks.slice(0, index);
    const problem = await workload.promised(ack, crashTree(frozen, SYNCED), earlier);
    if (problem) {
      const why = await brokenRule(workload, ack, frozen, earlier, ifSyncsReturned);
      problems.push(
        `ack ${JSON.stringify(ack.value)} at trace line ${ack.at}: ${problem} in the synced ` +
          `state; ${why}`,
      );
    }
  }
  return { acks, moments, beforeDirectorySyncs };
}

/** Which rule of the protocol an acknowledgement that does not hold after a crash broke. */
async function brokenRule(
  workload: CrashWorkload,
  ack: Ack,
  frozen: FrozenModel,
  earlier: readonly Ack[],
  ifSyncsReturned: FrozenModel | null,
): Promise<string> {
  const verdict = async (choice: Choice, model = frozen) =>
    await workload.promised(ack, crashTree(model, choice), earlier);
  const holds = async (choice: Choice) => (await verdict(choice)) === null;
  const live = await verdict(CURRENT);
  const unsyncedDirectory =
    "a directory was not synced after a rename or create before it was acknowledged";
  if (live !== null) return `it is not true even without a crash: ${live}`;
  if (ifSyncsReturned && (await verdict(SYNCED, ifSyncsReturned)) === null) {
    return "it was acknowledged before the sync that makes it durable returned";
  }
  if (await holds(ENTRIES_OF_SYNCED_DATA)) return unsyncedDirectory;
  if (await holds(DATA_EAGER)) return "the data was not synced before it was acknowledged";
  if (await holds(ENTRIES_EAGER)) return unsyncedDirectory;
  return "neither the data nor the directory entries were synced";
}

/** The acknowledgements a call prints: `ack <json>` lines written to stdout. */
function acksOf(call: Syscall): Record<string, unknown>[] {
  if (call.name !== "write" || descriptorNumber(call.args[0]) !== 1) return [];
  const text = new TextDecoder().decode(stringBytes(call.args[1]));
  return text.split("\n").filter((line) => line.startsWith("ack ")).map((line) =>
    JSON.parse(line.slice(4))
  );
}

/** Up to `count` moments, evenly spread with a seeded jitter, always including the last. */
function pickMoments(moments: readonly number[], count: number, seed: number): number[] {
  const unique = [...new Set(moments)];
  if (unique.length <= count) return unique;
  const picked = new Set<number>([unique[unique.length - 1]]);
  const stride = unique.length / (count - 1);
  for (let i = 0; i < count - 1; i++) {
    const jitter = ((seed * 7919 + i * 104_729) % 1000) / 1000;
    picked.add(unique[Math.min(unique.length - 1, Math.floor((i + jitter) * stride))]);
  }
  return [...picked].sort((a, b) => a - b);
}

/** Up to `count` items, evenly spread (all of them when there are fewer). */
function spread<T>(items: readonly T[], count: number): T[] {
  if (items.length <= count) return [...items];
  return Array.from({ length: count }, (_, i) => items[Math.floor((i * items.length) / count)]);
}

/** The model frozen right after each of the given trace lines. */
function freezeAt(
  root: string,
  before: RootContents,
  calls: readonly Syscall[],
  moments: readonly number[],
): FrozenModel[] {
  const wanted = new Set(moments);
  const frozen = new Map<number, FrozenModel>();
  const model = FsModel.of(root, before);
  replayCalls(model, calls, (step) => {
    // The last step of a line wins: the state after everything that line did.
    if (wanted.has(step.at)) frozen.set(step.at, model.freeze(step.at));
  });
  return [...frozen.values()];
}

/** Crash states are reopened in memory where there is a tmpfs: hundreds of fsyncs each. */
const STATES_DIR = (await Deno.stat("/dev/shm").catch(() => null))?.isDirectory
  ? "/dev/shm"
  : undefined;

async function reopen(
  workload: CrashWorkload,
  tree: CrashTree,
  acks: readonly Ack[],
): Promise<string | null> {
  const dir = await Deno.makeTempDir({ dir: STATES_DIR, prefix: "wa-gateway-crash-state-" });
  try {
    await materialize(tree, dir);
    return await workload.recover(dir, acks);
  } catch (error) {
    return `reopening failed: ${(error as Error).stack ?? error}`;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Runs a child under strace and returns, for each of its acknowledgements, what a crash right
 * after it would leave (only what was synced): for tests of one durability promise.
 *
 * @example
 * ```ts
 * const [{ tree }] = await syncedAtAcks(childUrl, root, [root]);
 * ```
 */
export async function syncedAtAcks(
  script: URL,
  root: string,
  args: string[],
): Promise<{ value: Record<string, unknown>; tree: CrashTree }[]> {
  const before = await readRootContents(root);
  const run = await traceDenoScript(script, root, args);
  if (run.code !== 0) throw new Error(`the child exited ${run.code}:\n${run.stderr}`);
  const states: { value: Record<string, unknown>; tree: CrashTree }[] = [];
  const model = FsModel.of(root, before);
  replayCalls(model, run.calls, (step) => {
    if (step.phase !== "enter") return;
    for (const value of acksOf(step.call)) {
      states.push({ value, tree: crashTree(model.freeze(step.at), SYNCED) });
    }
  });
  return states;
}

/**
 * In a workload's child: says a durable write has resolved, as one `ack <json>` line on stdout
 * (one `write`, which strace records).
 *
 * @example
 * ```ts
 * await store.save(record);
 * acknowledge({ op: "save", id: record.id, seq });
 * ```
 */
export function acknowledge(value: Record<string, unknown>): void {
  const bytes = new TextEncoder().encode(`ack ${JSON.stringify(value)}\n`);
  for (let written = 0; written < bytes.length;) {
    written += Deno.stdout.writeSync(bytes.subarray(written));
  }
}
