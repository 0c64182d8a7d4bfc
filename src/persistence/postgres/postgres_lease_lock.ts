import type { Sql } from "postgres";
import type { SessionId } from "../../domain/session_id.ts";
import type { Lease, LeaseLock, LeaseRecord } from "../../ownership/lease_lock.ts";

interface LeaseRow {
  session_id: string;
  holder: string | null;
  epoch: string | number;
  expires_at: Date;
  expired: boolean;
}

/**
 * Session leases in the `leases` table. Each call is one statement, judged in the database's
 * clock (`now()`): acquiring is an upsert whose update applies only to an unheld or expired row,
 * so two nodes acquiring at once never both win (the second waits on the first's row lock and
 * then finds it held), and every acquisition increments the epoch. Renew and release match holder
 * and epoch; a lapsed lease is never renewed. Rows outlive their sessions, so epochs keep
 * increasing when an id is reused.
 *
 * @example
 * ```ts
 * const lock = new PostgresLeaseLock(sql, "node-a");
 * const [lease] = await lock.acquire(["shop-1"], 20_000);
 * ```
 */
export class PostgresLeaseLock implements LeaseLock {
  readonly #sql: Sql;
  readonly identity: string;

  constructor(sql: Sql, identity: string) {
    this.#sql = sql;
    this.identity = identity;
  }

  async acquire(sessionIds: readonly SessionId[], ttlMs: number): Promise<Lease[]> {
    if (sessionIds.length === 0) return [];
    const rows = await this.#sql<{ session_id: string; epoch: string }[]>`
      INSERT INTO leases AS l (session_id, holder, epoch, expires_at)
      SELECT s.id, ${this.identity}, 1, now() + ${ttlMs} * interval '1 millisecond'
      FROM sessions s WHERE s.id = ANY(${[...sessionIds]}::text[])
      -- One lock order for every node: concurrent acquisitions never deadlock.
      ORDER BY s.id
      ON CONFLICT (session_id) DO UPDATE
        SET holder = excluded.holder, epoch = l.epoch + 1, expires_at = excluded.expires_at
        WHERE l.holder IS NULL OR l.expires_at <= now()
      RETURNING l.session_id, l.epoch`;
    return rows.map((row) => ({
      sessionId: row.session_id as SessionId,
      epoch: Number(row.epoch),
    }));
  }

  async renew(leases: readonly Lease[], ttlMs: number): Promise<Lease[]> {
    if (leases.length === 0) return [];
    const rows = await this.#sql<{ session_id: string; epoch: string }[]>`
      UPDATE leases l SET expires_at = now() + ${ttlMs} * interval '1 millisecond'
      FROM unnest(${leases.map((l) => l.sessionId)}::text[], ${
      leases.map((l) => l.epoch)
    }::bigint[]) AS wanted(session_id, epoch)
      WHERE l.session_id = wanted.session_id AND l.epoch = wanted.epoch
        AND l.holder = ${this.identity} AND l.expires_at > now()
      RETURNING l.session_id, l.epoch`;
    return rows.map((row) => ({
      sessionId: row.session_id as SessionId,
      epoch: Number(row.epoch),
    }));
  }

  async release(leases: readonly Lease[]): Promise<void> {
    if (leases.length === 0) return;
    await this.#sql`
      UPDATE leases l SET holder = NULL, expires_at = now()
      FROM unnest(${leases.map((l) => l.sessionId)}::text[], ${
      leases.map((l) => l.epoch)
    }::bigint[]) AS wanted(session_id, epoch)
      WHERE l.session_id = wanted.session_id AND l.epoch = wanted.epoch
        AND l.holder = ${this.identity}`;
  }

  async get(sessionId: SessionId): Promise<LeaseRecord | undefined> {
    const rows = await this.#sql<LeaseRow[]>`
      SELECT l.session_id, l.holder, l.epoch, l.expires_at, l.expires_at <= now() AS expired
      FROM leases l JOIN sessions s ON s.id = l.session_id WHERE l.session_id = ${sessionId}`;
    return rows.length > 0 ? leaseRecord(rows[0]) : undefined;
  }

  async list(): Promise<LeaseRecord[]> {
    const rows = await this.#sql<LeaseRow[]>`
      SELECT l.session_id, l.holder, l.epoch, l.expires_at, l.expires_at <= now() AS expired
      FROM leases l JOIN sessions s ON s.id = l.session_id ORDER BY l.session_id`;
    return rows.map(leaseRecord);
  }
}

function leaseRecord(row: LeaseRow): LeaseRecord {
  return {
    sessionId: row.session_id as SessionId,
    holder: row.holder,
    epoch: Number(row.epoch),
    expiresAt: row.expires_at,
    expired: row.expired,
  };
}
