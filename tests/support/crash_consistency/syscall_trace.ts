/**
 * Parses what `strace -f -y -xx` wrote into system calls with their argument strings, their
 * return value, and where they started and ended in the trace (the order strace saw them in).
 *
 * strace prints a call in one line when no other thread interleaves, else in two:
 *
 * ```
 * 1234 fsync(21<\x2f\x74…>) = 0
 * 1234 fsync(21<\x2f\x74…> <unfinished ...>
 * 1235 write(1<…>, "\x61\x63\x6b…", 9) = 9
 * 1234 <... fsync resumed>) = 0
 * ```
 *
 * With `-xx` every string and every path strace decorates a descriptor with is hex, so no
 * argument holds a comma, quote or bracket of its own, and splitting the arguments is simple.
 */

/** One system call as strace saw it. */
export interface Syscall {
  pid: number;
  name: string;
  /** The arguments as strace printed them (`21<\x2f…>`, `"\x61…"`, `O_WRONLY|O_CREAT`, `0600`). */
  args: string[];
  /** The return value (`0`, `21<\x2f…>`, `-1 ENOENT (No such file or directory)`, `?`). */
  ret: string;
  /** The trace line where the call started, and where it returned. */
  enteredAt: number;
  returnedAt: number;
}

const WHOLE = /^(\d+)\s+([a-z0-9_]+)\((.*)\)\s+=\s+(.*)$/;
const UNFINISHED = /^(\d+)\s+([a-z0-9_]+)\((.*?)\s*<unfinished \.\.\.>$/;
const RESUMED = /^(\d+)\s+<\.\.\. ([a-z0-9_]+) resumed>(.*)\)\s+=\s+(.*)$/;
/**
 * Lines that are not calls: exits, signals, and calls cut short by the process ending, none of
 * which returned: what strace prints for a thread that exits while it stops it (`???() = ?`), for a
 * call it lost the name of (`<... ??? resumed>) = ?`), and for one it let go of as the process
 * ended (`openat(… <detached ...>`). A fresh Deno cache makes these likely: Deno is still writing
 * its code cache on other threads when the script exits.
 */
const OTHER = new RegExp(
  String
    .raw`^(\d+)\s+(\+\+\+|---|\?\?\?\(|<\.\.\. [a-z0-9_]+ resumed>\s*<unfinished \.\.\.>\)\s*=\s*\?` +
    String.raw`|<\.\.\. \?\?\? resumed>.*=\s*\?\s*$|.*<detached \.\.\.>\s*$)`,
);

/**
 * Every completed call of a trace, in the order they returned. A call still running when the
 * process ended is dropped: it never returned, so nothing could have relied on it.
 *
 * @example
 * ```ts
 * const calls = parseStrace(await Deno.readTextFile("trace.txt"));
 * ```
 */
export function parseStrace(text: string): Syscall[] {
  const calls: Syscall[] = [];
  const started = new Map<number, { name: string; args: string; at: number }>();
  const lines = text.split("\n");
  for (let at = 0; at < lines.length; at++) {
    const line = lines[at];
    if (line === "") continue;
    let match = WHOLE.exec(line);
    if (match && !line.includes("<... ")) {
      calls.push(call(match, splitArgs(match[3]), at, at));
      continue;
    }
    if ((match = UNFINISHED.exec(line))) {
      started.set(Number(match[1]), { name: match[2], args: match[3], at });
      continue;
    }
    if ((match = RESUMED.exec(line))) {
      const pid = Number(match[1]);
      const entry = started.get(pid);
      if (!entry || entry.name !== match[2]) {
        throw new Error(`trace line ${at}: a call resumed that never started: ${line}`);
      }
      started.delete(pid);
      const rest = match[3].replace(/^\s*,?\s*/, "");
      const args = [...splitArgs(entry.args), ...(rest ? splitArgs(rest) : [])];
      calls.push(call(match, args, entry.at, at));
      continue;
    }
    if (OTHER.test(line)) {
      const pid = Number(OTHER.exec(line)![1]);
      if (line.includes("resumed>") || line.includes("<detached ...>")) started.delete(pid);
      continue;
    }
    throw new Error(`trace line ${at} is not understood: ${line.slice(0, 300)}`);
  }
  return calls;
}

function call(match: RegExpExecArray, args: string[], enteredAt: number, returnedAt: number) {
  const ret = match[4].trim();
  for (const arg of args) {
    if (arg.endsWith('"...')) throw new Error(`a string was cut short: raise strace's -s`);
  }
  return { pid: Number(match[1]), name: match[2], args, ret, enteredAt, returnedAt };
}

/** Splits `a, [b, c], {d=e}` at its top-level commas. */
function splitArgs(text: string): string[] {
  const args: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "[" || c === "{" || c === "(" || c === "<") depth++;
    else if (c === "]" || c === "}" || c === ")" || c === ">") depth--;
    else if (c === "," && depth === 0) {
      args.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = text.slice(start).trim();
  if (last !== "" || args.length > 0) args.push(last);
  return args;
}

/** The bytes of a `"\x61\x62"` string argument. */
export function stringBytes(arg: string): Uint8Array {
  const match = /^"((?:\\x[0-9a-f]{2})*)"$/.exec(arg);
  if (!match) throw new Error(`not a hex string argument: ${arg.slice(0, 80)}`);
  return hexBytes(match[1]);
}

/** The path strace decorated a descriptor with (`21<\x2f\x74>` → `/t`), or `null`. */
export function descriptorPath(arg: string): string | null {
  const match = /^-?\w+<((?:\\x[0-9a-f]{2})*)>$/.exec(arg);
  return match ? new TextDecoder().decode(hexBytes(match[1])) : null;
}

/** The descriptor number of `21<…>` (or of `AT_FDCWD`, as -100). */
export function descriptorNumber(arg: string): number {
  if (arg.startsWith("AT_FDCWD")) return -100;
  const value = Number.parseInt(arg, 10);
  if (Number.isNaN(value)) throw new Error(`not a descriptor: ${arg.slice(0, 80)}`);
  return value;
}

/** Whether the call succeeded (a return value that is not `-1 E…` nor `?`). */
export function succeeded(call: Syscall): boolean {
  return !call.ret.startsWith("-1") && !call.ret.startsWith("?");
}

function hexBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 4);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = Number.parseInt(hex.slice(i * 4 + 2, i * 4 + 4), 16);
  }
  return bytes;
}
