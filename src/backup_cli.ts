/**
 * Backup and restore of the data directory, as `deno task backup -- <archive>` and
 * `deno task restore -- <archive> <empty-dir>`. A backup may run while the gateway does.
 * See docs/operations.md.
 */
import { ConfigError, loadConfig } from "./config.ts";
import {
  BackupError,
  type BackupReport,
  createBackup,
  restoreBackup,
} from "./backup/backup_archive.ts";

const USAGE = `Usage:
  deno task backup -- <archive.tar>            back up SESSIONS_DATA_PATH (default sessions_data)
  deno task restore -- <archive.tar> <dir>     restore into <dir>, which must be empty or absent`;

/** Runs one command; returns the exit code (0 done, 1 failed, 2 usage or configuration). */
export async function runBackupCli(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<number> {
  const [command, ...rest] = args.filter((arg) => arg !== "--");
  try {
    if (command === "backup" && rest.length === 1) {
      const { dataDir } = loadConfig(env);
      print("backed up", await createBackup(dataDir, rest[0]));
      return 0;
    }
    if (command === "restore" && rest.length === 2) {
      print("restored", await restoreBackup(rest[0], rest[1]));
      return 0;
    }
    console.error(USAGE);
    return 2;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    if (error instanceof BackupError) {
      console.error(`error: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

function print(what: string, report: BackupReport): void {
  const from = what === "restored" ? report.archive : report.dataDir;
  const to = what === "restored" ? report.dataDir : report.archive;
  console.log(
    `${what} ${report.files.length} file(s), ${report.bytes} bytes, ` +
      `${report.sessions.length} session folder(s): ${from} → ${to}`,
  );
  for (const warning of report.warnings) console.error(`warning: ${warning}`);
}

if (import.meta.main) {
  Deno.exit(await runBackupCli(Deno.args, Deno.env.toObject()));
}
