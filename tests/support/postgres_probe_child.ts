/**
 * Run by `tests/unit/support/postgres_test_registration_test.ts` as its own `deno test`, with
 * `POSTGRES_BIN_DIR` pointing where there is no server: shows how a PostgreSQL test registers.
 */
import { postgresTest } from "./postgres_test.ts";

postgresTest("probe needs a server", () => Promise.resolve());
