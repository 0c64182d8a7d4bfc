/**
 * Child process for the lock test: opens a FileSessionStore on the directory given as the first
 * argument and prints one JSON line saying what happened. Exits 0 if it opened, 3 if it did not.
 */
import { createLogger } from "../../src/logger.ts";
import { FileSessionStore } from "../../src/persistence/file_session_store.ts";

const [dataDir] = Deno.args;
const store = new FileSessionStore({
  dataDir,
  logger: createLogger({ level: "silent", format: "json" }),
});
try {
  await store.open();
  console.log(JSON.stringify({ opened: true }));
  await store.close();
} catch (error) {
  const { name, message, code } = error as Error & { code?: string };
  console.log(JSON.stringify({ opened: false, name, code, message }));
  Deno.exit(3);
}
