import type { Sql, TransactionSql } from "postgres";
import { FencedOutError } from "../../domain/errors.ts";
import type { Fence } from "../../domain/fence.ts";

/**
 * Checks, inside a write transaction, that `node` still holds the session's lease under the
 * fence's epoch and that it has not lapsed (in the database's clock); throws `FencedOutError`
 * otherwise, which rolls the transaction back. The row lock (`FOR SHARE`) makes a takeover's
 * `UPDATE` of the lease wait until this transaction ends, so no write commits under an epoch that
 * was already replaced.
 *
 * @example
 * ```ts
 * await transaction(sql, async (tx) => { await assertFence(tx, fence, nodeId); … });
 * ```
 */
export async function assertFence(
  tx: TransactionSql | Sql,
  fence: Fence,
  node: string,
): Promise<void> {
  const rows = await tx`
    SELECT 1 FROM leases
    WHERE session_id = ${fence.sessionId} AND epoch = ${fence.epoch} AND holder = ${node}
      AND expires_at > now()
    FOR SHARE`;
  if (rows.length === 0) throw new FencedOutError(fence.sessionId, fence.epoch);
}
