/**
 * Runs every benchmark under `bench/` in turn, each in its own process so one's heap and open
 * files never skew the next. Pass-through arguments go to every benchmark (e.g. `--runs 3`).
 *
 * Usage: deno task bench [--runs N] [--quick] (`--quick`: the cluster benchmark's short form)
 */
import { fileURLToPath } from "node:url";

const BENCHMARKS = [
  "store_bench.ts",
  "auth_state_bench.ts",
  "encryption_bench.ts",
  "restore_bench.ts",
  "login_cpu_bench.ts",
  "signal_sessions_bench.ts",
  "messaging_bench.ts",
  "group_send_bench.ts",
  "message_store_bench.ts",
  "postgres_store_bench.ts",
  "media_bench.ts",
  "cluster_bench.ts",
];

for (const name of BENCHMARKS) {
  const path = fileURLToPath(new URL(name, import.meta.url));
  console.log(`\n## ${name}\n`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--frozen", path, ...Deno.args],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    console.error(`${name} failed with exit code ${code}`);
    Deno.exit(code);
  }
}
