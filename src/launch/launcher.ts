/**
 * Runs a task under least privilege: `deno task start` (and `dev`, `rotate-key`, `backup`,
 * `restore`, `compile`) computes the exact permission flags from the configuration, then runs
 * the entry point with them as a child process, on the same Deno binary. The launcher itself
 * may only read the environment and start that child; it gives up both once the child runs,
 * then forwards SIGTERM/SIGINT to it and exits with its exit code.
 */
import { ConfigError } from "../config.ts";
import {
  LAUNCH_COMMANDS,
  type LaunchCommand,
  launchPlan,
  UnnamablePathError,
} from "./launch_plan.ts";

const FORWARDED_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;

async function main(): Promise<number> {
  const [command, ...args] = Deno.args;
  if (!LAUNCH_COMMANDS.includes(command as LaunchCommand)) {
    console.error(`usage: launcher.ts <${LAUNCH_COMMANDS.join("|")}> [arguments]`);
    return 2;
  }
  let plan: string[];
  try {
    plan = launchPlan(command as LaunchCommand, args, Deno.env.toObject());
  } catch (error) {
    if (error instanceof ConfigError || error instanceof UnnamablePathError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: plan,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // From here on the launcher needs no permission at all (signalling its own child needs none).
  await Deno.permissions.revoke({ name: "run" });
  await Deno.permissions.revoke({ name: "env" });
  for (const signal of FORWARDED_SIGNALS) {
    Deno.addSignalListener(signal, () => {
      try {
        child.kill(signal);
      } catch {
        // the child has exited already
      }
    });
  }
  return (await child.status).code;
}

if (import.meta.main) {
  Deno.exit(await main());
}
