import type { Sql } from "postgres";
import type { NodeRecord, NodeRegistry } from "../../ownership/node_registry.ts";

/**
 * The node registry in the `nodes` table, liveness judged in the database's clock: a node is
 * alive while its last heartbeat is younger than the TTL it gave with it. A node that comes back
 * after it was presumed dead gets a new `startedAt`.
 *
 * @example
 * ```ts
 * const registry = new PostgresNodeRegistry(sql);
 * await registry.heartbeat({ id: "node-a", url: "http://10.0.0.1:3000", draining: false }, 20_000);
 * ```
 */
export class PostgresNodeRegistry implements NodeRegistry {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async heartbeat(
    node: { id: string; url: string; draining: boolean },
    ttlMs: number,
  ): Promise<void> {
    await this.#sql`
      INSERT INTO nodes AS n (id, url, started_at, heartbeat_at, ttl_ms, draining)
      VALUES (${node.id}, ${node.url}, now(), now(), ${ttlMs}, ${node.draining})
      ON CONFLICT (id) DO UPDATE SET
        url = excluded.url,
        started_at = CASE WHEN n.heartbeat_at + n.ttl_ms * interval '1 millisecond' <= now()
          THEN now() ELSE n.started_at END,
        heartbeat_at = now(),
        ttl_ms = excluded.ttl_ms,
        draining = excluded.draining`;
  }

  async list(): Promise<NodeRecord[]> {
    const rows = await this.#sql<
      {
        id: string;
        url: string;
        started_at: Date;
        heartbeat_at: Date;
        draining: boolean;
        alive: boolean;
      }[]
    >`
      SELECT id, url, started_at, heartbeat_at, draining,
        heartbeat_at + ttl_ms * interval '1 millisecond' > now() AS alive
      FROM nodes ORDER BY id`;
    return rows.map((row) => ({
      id: row.id,
      url: row.url,
      startedAt: row.started_at,
      heartbeatAt: row.heartbeat_at,
      alive: row.alive,
      draining: row.draining,
    }));
  }

  async leave(id: string): Promise<void> {
    await this.#sql`DELETE FROM nodes WHERE id = ${id}`;
  }
}
