/**
 * Feeds a process's system calls, as strace recorded them, into an {@linkcode FsModel}: each
 * call's effect at the moment it returned, except `close` (at its start: the number may be
 * handed out again before it returns) and syncs (they start covering at their start, and count
 * once they return). A call on a modelled path that the model cannot follow fails the replay.
 */
import { resolve } from "node:path";
import type { FsModel } from "./fs_model.ts";
import {
  descriptorNumber,
  descriptorPath,
  stringBytes,
  succeeded,
  type Syscall,
} from "./syscall_trace.ts";

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

/** One step of a replay: a call starting or returning, at its trace line. */
export interface Step {
  at: number;
  phase: "enter" | "return";
  call: Syscall;
  /** The directory (inode) whose sync this step started, or `null`. */
  directorySync: number | null;
}

/**
 * Replays `calls` into `model` in the order strace saw them start and return; `observe` sees
 * each step right after it was applied.
 *
 * @example
 * ```ts
 * replayCalls(model, parseStrace(trace), (step) => { if (isAck(step)) frozen.push(model.freeze(step.at)); });
 * ```
 */
export function replayCalls(
  model: FsModel,
  calls: readonly Syscall[],
  observe: (step: Step) => void,
): void {
  const steps: Step[] = [];
  for (const call of calls) {
    steps.push({ at: call.enteredAt, phase: "enter", call, directorySync: null });
    steps.push({ at: call.returnedAt, phase: "return", call, directorySync: null });
  }
  // Stable: a call printed in one line enters before it returns.
  steps.sort((a, b) => a.at - b.at || (a.phase === b.phase ? 0 : a.phase === "enter" ? -1 : 1));
  const replay = new CallReplay(model);
  for (const step of steps) {
    try {
      if (step.phase === "enter") step.directorySync = replay.enter(step.call);
      else if (succeeded(step.call)) replay.return(step.call);
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

/** What each call means to the model. */
class CallReplay {
  readonly #model: FsModel;

  constructor(model: FsModel) {
    this.#model = model;
  }

  /** A call started; returns the directory whose sync it starts, if it does. */
  enter(call: Syscall): number | null {
    switch (call.name) {
      case "close":
        this.#model.close(descriptorNumber(call.args[0]));
        return null;
      case "fsync":
      case "fdatasync": {
        const fd = this.#descriptor(call.args[0]);
        return fd === null ? null : this.#model.startSync(call, fd);
      }
      case "sync_file_range":
        if (this.#descriptor(call.args[0]) !== null) {
          throw new Error("sync_file_range makes nothing durable; the model does not allow it");
        }
        return null;
    }
    return null;
  }

  /** A call returned successfully. */
  return(call: Syscall): void {
    const [a0, a1, a2, a3] = call.args;
    const model = this.#model;
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
      case "pwrite64": {
        const fd = this.#descriptor(a0);
        if (fd === null) return;
        const bytes = stringBytes(a1).subarray(0, Number(call.ret));
        return model.write(fd, bytes, call.name === "pwrite64" ? Number(a3) : undefined);
      }
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
        if (this.#descriptor(a0) !== null) {
          throw new Error("lseek on a modelled file is not modelled");
        }
        return;
      case "ftruncate": {
        const fd = this.#descriptor(a0);
        if (fd !== null) model.truncate(fd, Number(a1));
        return;
      }
      case "fsync":
      case "fdatasync":
        return model.endSync(call);
      case "rename":
        return model.rename(this.#at("AT_FDCWD", a0), this.#at("AT_FDCWD", a1));
      case "renameat":
      case "renameat2":
        return model.rename(this.#at(a0, a1), this.#at(a2, a3));
      case "unlink":
      case "rmdir":
        return model.unlink(this.#at("AT_FDCWD", a0));
      case "unlinkat":
        return model.unlink(this.#at(a0, a1));
      case "mkdir":
        return model.mkdir(this.#at("AT_FDCWD", a0));
      case "mkdirat":
        return model.mkdir(this.#at(a0, a1));
    }
  }

  #open(path: string, flags: string, ret: string): void {
    this.#model.open(descriptorNumber(ret), path, {
      create: flags.includes("O_CREAT"),
      truncate: flags.includes("O_TRUNC"),
      append: flags.includes("O_APPEND"),
    });
  }

  #dup(fromArg: string, ret: string): void {
    this.#model.dup(descriptorNumber(fromArg), descriptorNumber(ret));
  }

  /** The number of a modelled descriptor, or `null` for another one. */
  #descriptor(fdArg: string): number | null {
    const fd = descriptorNumber(fdArg);
    if (this.#model.knows(fd)) return this.#model.tracks(fd) ? fd : null;
    // A descriptor opened before tracing began (stdout) or outside the calls traced.
    const path = descriptorPath(fdArg);
    if (path !== null && this.#model.inside(path)) {
      throw new Error(`descriptor ${fd} on ${path} was opened outside the trace`);
    }
    return null;
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
      return path.startsWith("/") && this.#model.inside(path);
    }
    const path = descriptorPath(arg);
    return path !== null && this.#model.inside(path.replace(/ \(deleted\)$/, ""));
  }
}
