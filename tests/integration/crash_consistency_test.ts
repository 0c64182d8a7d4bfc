/**
 * Every durable write path under strace (see `tests/support/crash_consistency/harness.ts`): each
 * acknowledged write must hold in the state a crash right after it would leave (only what was
 * synced), and the states a crash at sampled moments could leave must reopen with every
 * acknowledged write intact.
 */
import { strict as assert } from "node:assert";
import { type CrashWorkload, runCrashHarness } from "../support/crash_consistency/harness.ts";
import { backupWorkload } from "../support/crash_consistency/workloads/backup_workload.ts";
import { journalWorkload } from "../support/crash_consistency/workloads/journal_workload.ts";
import { keyRotationWorkload } from "../support/crash_consistency/workloads/key_rotation_workload.ts";
import { messageStoreWorkload } from "../support/crash_consistency/workloads/message_store_workload.ts";
import { metadataWorkload } from "../support/crash_consistency/workloads/metadata_workload.ts";
import { migrationWorkload } from "../support/crash_consistency/workloads/migration_workload.ts";
import { migrateStoreWorkload } from "../support/crash_consistency/workloads/migrate_store_workload.ts";
import { outboxWorkload } from "../support/crash_consistency/workloads/outbox_workload.ts";
import { postgresTest } from "../support/postgres_test.ts";

const WORKLOADS: CrashWorkload[] = [
  metadataWorkload,
  journalWorkload,
  outboxWorkload,
  backupWorkload,
  keyRotationWorkload,
  migrationWorkload,
  messageStoreWorkload,
];

async function assertCrashConsistent(workload: CrashWorkload): Promise<void> {
  const report = await runCrashHarness(workload);
  assert.deepEqual(report.problems, [], report.problems.join("\n\n"));
  assert.ok(report.crashStates > 0, "no crash state was checked");
}

for (const workload of WORKLOADS) {
  Deno.test(
    `crash consistency under strace: ${workload.name}`,
    { sanitizeOps: false, sanitizeResources: false },
    () => assertCrashConsistent(workload),
  );
}

// The copy out of a database: the workload needs one (a fresh one on a throwaway server).
postgresTest(
  "crash consistency under strace: migrate-store into a data directory",
  (pg) => assertCrashConsistent(migrateStoreWorkload(pg.url)),
  { sanitizeOps: false, sanitizeResources: false },
);
