/** The median of `values` (which need not be sorted). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A number with thousands separators and a fixed number of decimals. */
export const fmt = (value: number, digits = 0): string =>
  value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** One line naming the runtime and machine, to head a benchmark report. */
export async function machineLine(runs: number): Promise<string> {
  const cpu = Deno.build.os === "linux"
    ? (await Deno.readTextFile("/proc/cpuinfo")).match(/model name\s*:\s*(.*)/)?.[1]
    : undefined;
  return `Deno ${Deno.version.deno}, ${Deno.build.os}/${Deno.build.arch}, ` +
    `${navigator.hardwareConcurrency} CPUs${cpu ? ` (${cpu})` : ""}; median of ${runs} runs.`;
}

/** The value of `--runs N` on the command line, or `fallback`. */
export function runsFromArgs(fallback: number): number {
  const flag = Deno.args.indexOf("--runs");
  return flag >= 0 ? Number(Deno.args[flag + 1]) : fallback;
}

/** Runs `fn` with a fresh temporary directory and removes it afterwards. */
export async function withBenchDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "wa-gateway-bench-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The machine's load averages (1, 5 and 15 minutes), as `/proc/loadavg` has them. */
export async function loadLine(): Promise<string> {
  if (Deno.build.os !== "linux") return "unknown";
  const [one, five, fifteen] = (await Deno.readTextFile("/proc/loadavg")).split(" ");
  return `${one}, ${five}, ${fifteen}`;
}
