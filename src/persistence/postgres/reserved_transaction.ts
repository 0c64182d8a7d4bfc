import type { ReservedSql, Sql } from "postgres";

/**
 * Error codes that mean the connection itself is gone: the server rolled the transaction back
 * with it, and the client must not write to it again.
 */
const CONNECTION_LOST = new Set([
  "ECONNRESET",
  "EPIPE",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P01",
  "57P02",
  "57P03",
  "08000",
  "08003",
  "08006",
]);

/**
 * Runs `work` in a transaction on a connection of its own, like `sql.begin`, except after the
 * connection broke: `sql.begin` then sends ROLLBACK on the broken connection, and the client
 * library (`postgres` 3.4.9) defers that write and throws outside any promise, which ends the
 * process (porsager/postgres#1154 and #1208, not fixed in a release yet). Here a lost connection
 * is left alone (the client already moved it to its closed ones); anything else is rolled back
 * and the connection handed back.
 *
 * @example
 * ```ts
 * await reservedTransaction(sql, async (tx) => { await assertFence(tx, fence, nodeId); … });
 * ```
 */
export async function reservedTransaction<T>(
  sql: Sql,
  work: (tx: ReservedSql) => Promise<T>,
): Promise<T> {
  const tx = await sql.reserve();
  try {
    // Pipelined with the work's first statement: one round trip fewer.
    const begun = tx`BEGIN`.execute();
    begun.catch(() => {}); // its failure fails the work's statements too
    const result = await work(tx);
    await begun;
    await tx`COMMIT`;
    tx.release();
    return result;
  } catch (error) {
    if (!CONNECTION_LOST.has(String((error as { code?: unknown })?.code ?? ""))) {
      await tx`ROLLBACK`.then(() => tx.release(), () => {});
    }
    throw error;
  }
}
