/**
 * Child for unit tests of one durability promise each, run under strace by `syncedAtAcks()`:
 * `deno run durability_probe_child.ts <root> <probe>`, where the probe is
 *
 * - `journal-write`: one auth write through a store on `<root>/data`, acknowledged once it
 *   resolved (`{op:"written"}`);
 * - `sync-files`: `<root>/d/a.json` written without a sync, its entry synced, then
 *   `syncFiles()` on it and on a file that does not exist (`{op:"synced"}`).
 */
import { singleOwnerFence } from "../../../../src/domain/fence.ts";
import { join } from "node:path";
import type { SessionId } from "../../../../src/domain/session_id.ts";
import { syncDirectory, syncFiles } from "../../../../src/persistence/atomic_write.ts";
import { FileSessionStore } from "../../../../src/persistence/file_session_store.ts";
import { silentLogger } from "../../persistence_fixtures.ts";
import { acknowledge } from "../harness.ts";

if (import.meta.main) {
  const [root, probe] = Deno.args;
  if (probe === "journal-write") {
    const store = new FileSessionStore({
      dataDir: join(root, "data"),
      logger: silentLogger,
      journalIdleMs: 3_600_000,
    });
    await store.open();
    await store.auth(singleOwnerFence("shop-1" as SessionId)).write(
      new Map([["creds.json", new TextEncoder().encode('{"me":"shop"}')]]),
    );
    acknowledge({ op: "written" });
    await store.close();
  } else if (probe === "sync-files") {
    const dir = join(root, "d");
    await Deno.writeTextFile(join(dir, "a.json"), "a");
    await syncDirectory(dir);
    await syncFiles(dir, ["a.json", "never-existed.json"]);
    acknowledge({ op: "synced" });
  } else {
    throw new Error(`unknown probe ${probe}`);
  }
}
