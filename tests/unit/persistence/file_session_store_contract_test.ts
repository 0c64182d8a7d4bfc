import { singleOwnerFence } from "../../../src/domain/fence.ts";
import { FileSessionStore } from "../../../src/persistence/file_session_store.ts";
import { silentLogger, withTempDir } from "../../support/persistence_fixtures.ts";
import {
  sessionStoreContract,
  type SessionStoreHarness,
} from "../../support/session_store_contract.ts";

const META = "sessions-metadata.json";

function fileHarness(dataDir: string): SessionStoreHarness {
  return {
    open: async () => {
      const store = new FileSessionStore({ dataDir, logger: silentLogger });
      return { store, load: await store.open() };
    },
    own: (id) => Promise.resolve(singleOwnerFence(id)),
    corrupt: async (id) => {
      const metadata = JSON.parse(await Deno.readTextFile(`${dataDir}/${META}`));
      metadata[id].status = "bogus";
      await Deno.writeTextFile(`${dataDir}/${META}`, JSON.stringify(metadata));
    },
    stillStored: async (id) => {
      for await (const entry of Deno.readDir(dataDir)) {
        if (!entry.name.startsWith("sessions-metadata.quarantine-")) continue;
        const kept = JSON.parse(await Deno.readTextFile(`${dataDir}/${entry.name}`));
        if (kept[id]?.entry?.id === id) return true;
      }
      return false;
    },
  };
}

sessionStoreContract((name, fn) =>
  Deno.test(`FileSessionStore: ${name}`, () => withTempDir((dir) => fn(fileHarness(dir))))
);
