import type { Sql, TransactionSql } from "postgres";

/**
 * Runs `work` in one transaction: `sql.begin`, the one way into a transaction of the client
 * library (`postgres` 3.4.9) that recovers from a lost connection. It rejects as soon as the
 * connection closes. `sql.reserve()` does not: a reservation that has to wait for a connection
 * to reconnect (after a server restart) is never handed that connection, so it hangs for good
 * and the connection is lost to the pool. The ROLLBACK that `sql.begin` then writes to the broken
 * connection can throw from a timer inside the client (porsager/postgres#1154, #1208);
 * `openDatabaseClient` keeps that error from ending the process.
 *
 * @example
 * ```ts
 * await transaction(sql, async (tx) => { await assertFence(tx, fence, nodeId); … });
 * ```
 */
export function transaction<T>(sql: Sql, work: (tx: TransactionSql) => Promise<T>): Promise<T> {
  return sql.begin(work) as Promise<T>;
}
