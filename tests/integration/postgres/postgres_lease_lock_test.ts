import {
  type LeaseBackend,
  leaseLockContract,
  nodeRegistryContract,
} from "../../support/lease_lock_contract.ts";
import { postgresLeaseBackend, withMigratedDatabase } from "../../support/postgres_fixtures.ts";
import { postgresTest } from "../../support/postgres_test.ts";

const test = (name: string, fn: (backend: LeaseBackend) => Promise<void>) =>
  postgresTest(
    `PostgresLeaseLock/NodeRegistry: ${name}`,
    (pg) => withMigratedDatabase(pg, (clients) => fn(postgresLeaseBackend(clients))),
  );

leaseLockContract(test);
nodeRegistryContract(test);
