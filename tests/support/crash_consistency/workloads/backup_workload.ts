/**
 * Backups (`backup_archive.ts`): an archive of a data directory, written to a temporary file,
 * synced, renamed into place, its directory synced; then a restore into a directory that does
 * not exist yet.
 *
 * Child: `deno run backup_workload.ts <root>`; says `{op:"backed-up"}` once `createBackup`
 * resolved and `{op:"restored"}` once `restoreBackup` did.
 */
import { singleOwnerFence } from "../../../../src/domain/fence.ts";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  createBackup,
  restoreBackup,
  verifyArchive,
} from "../../../../src/backup/backup_archive.ts";
import type { SessionId } from "../../../../src/domain/session_id.ts";
import { FileSessionStore } from "../../../../src/persistence/file_session_store.ts";
import { silentLogger } from "../../persistence_fixtures.ts";
import type { CrashTree } from "../crash_states.ts";
import { type Ack, acknowledge, type CrashWorkload } from "../harness.ts";

const DATA = "data";
const ARCHIVE = "backups/gateway.tar";
const RESTORED = "restored/data";
const SESSIONS = ["shop-1", "shop-2"];

/** The manifest of an archive's bytes, or why they are not a whole backup. */
async function manifestOf(data: Uint8Array) {
  const file = await Deno.makeTempFile({ prefix: "wa-gateway-crash-archive-" });
  try {
    await Deno.writeFile(file, data);
    return await verifyArchive(file);
  } catch (error) {
    return (error as Error).message;
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}

/** What is wrong with the archive and the restored files, judged by `files` (path → bytes). */
async function broken(
  files: ReadonlyMap<string, Uint8Array>,
  acks: readonly Ack[],
): Promise<string | null> {
  const archive = files.get(ARCHIVE);
  const backedUp = acks.some((ack) => ack.value.op === "backed-up");
  if (!archive) return backedUp ? `${ARCHIVE} is missing after the backup` : null;
  // The archive appears whole or not at all.
  const manifest = await manifestOf(archive);
  if (typeof manifest === "string") return `${ARCHIVE} is not a whole backup: ${manifest}`;
  if (!acks.some((ack) => ack.value.op === "restored")) return null;
  for (const file of manifest.files) {
    const restored = files.get(`${RESTORED}/${file.path}`);
    if (!restored) return `${file.path} is missing from the restored directory`;
    if (createHash("sha256").update(restored).digest("hex") !== file.sha256) {
      return `${file.path} was restored with other content`;
    }
  }
  return null;
}

export const backupWorkload: CrashWorkload = {
  name: "backup and restore",
  script: new URL(import.meta.url),
  async setup(root) {
    const store = new FileSessionStore({ dataDir: join(root, DATA), logger: silentLogger });
    await store.open();
    for (const id of SESSIONS) {
      await store.auth(singleOwnerFence(id as SessionId)).write(
        new Map([
          ["creds.json", new TextEncoder().encode(JSON.stringify({ id, pad: "c".repeat(3000) }))],
          ["pre-key-1.json", new TextEncoder().encode(JSON.stringify({ id, key: 1 }))],
        ]),
      );
    }
    await store.close();
    await Deno.mkdir(join(root, "backups"));
  },
  args: (root) => [root],
  minAcks: 2,
  promised: (ack: Ack, tree: CrashTree, earlier: readonly Ack[]) =>
    broken(tree.files, [...earlier, ack]),
  async recover(root, acks) {
    const files = new Map<string, Uint8Array>();
    for (const path of [ARCHIVE]) {
      const data = await Deno.readFile(join(root, path)).catch(() => null);
      if (data) files.set(path, data);
    }
    const restored = acks.some((ack) => ack.value.op === "restored");
    if (restored) {
      const walk = async (dir: string) => {
        for await (const entry of Deno.readDir(join(root, dir))) {
          const path = `${dir}/${entry.name}`;
          if (entry.isDirectory) await walk(path);
          else files.set(path, await Deno.readFile(join(root, path)));
        }
      };
      await walk(RESTORED);
    }
    const problem = await broken(files, acks);
    if (problem || !restored) return problem;
    // The restored directory opens as a data directory with both sessions.
    const store = new FileSessionStore({ dataDir: join(root, RESTORED), logger: silentLogger });
    await store.open();
    const sessions = await store.listAuth();
    await store.close();
    return sessions.join() === SESSIONS.join() ? null : `restored sessions: ${sessions}`;
  },
};

if (import.meta.main) {
  const root = Deno.args[0];
  await createBackup(join(root, DATA), join(root, ARCHIVE));
  acknowledge({ op: "backed-up" });
  await restoreBackup(join(root, ARCHIVE), join(root, RESTORED));
  acknowledge({ op: "restored" });
}
