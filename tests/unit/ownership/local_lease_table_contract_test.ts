import type { SessionId } from "../../../src/domain/session_id.ts";
import { LocalLeaseTable } from "../../../src/ownership/local_lease_lock.ts";
import {
  type LeaseBackend,
  leaseLockContract,
  nodeRegistryContract,
} from "../../support/lease_lock_contract.ts";

function localBackend(): LeaseBackend {
  const sessions = new Set<SessionId>();
  const table = new LocalLeaseTable({ sessionExists: (id) => sessions.has(id) });
  return {
    lock: (identity) => table.lock(identity),
    registry: () => table.registry,
    createSession: (id) => Promise.resolve(void sessions.add(id)),
    removeSession: (id) => Promise.resolve(void sessions.delete(id)),
    storeNow: () => Promise.resolve(new Date()),
  };
}

const test = (name: string, fn: (backend: LeaseBackend) => Promise<void>) =>
  Deno.test(`LocalLeaseTable: ${name}`, () => fn(localBackend()));

leaseLockContract(test);
nodeRegistryContract(test);
