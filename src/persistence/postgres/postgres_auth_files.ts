import type { Sql } from "postgres";
import type { Fence } from "../../domain/fence.ts";
import type { AuthFiles } from "../../domain/session_store.ts";
import type { KeyedLock } from "../../lib/keyed_lock.ts";
import type { AuthFileCodec } from "../auth_file_codec.ts";
import { assertAuthFileName } from "../auth_file_name.ts";
import { assertFence } from "./fence_check.ts";
import { transaction } from "./transaction.ts";

/** Rows per statement of a bulk upsert (three parameters a row, far below the 65,535 limit). */
const UPSERT_CHUNK = 5_000;

/** What {@linkcode PostgresAuthFiles} needs from its store. */
export interface PostgresAuthFilesOptions {
  sql: Sql;
  fence: Fence;
  /** This node's id, the lease holder the fence is checked against. */
  node: string;
  codec: AuthFileCodec;
  /** Serialises the session's writes in this process, so batches apply in call order. */
  writes: KeyedLock;
  /** Throws when the store is not open. */
  assertUsable: () => void;
  /** Tracks a write until it settles (for `flush`). */
  track: <T>(write: Promise<T>) => Promise<T>;
  /** Repeats a transaction while the database is unavailable for a moment. */
  retry: <T>(what: string, attempt: () => Promise<T>) => Promise<T>;
}

/**
 * One session's auth files as rows of `auth_files`, stored through the codec. Each batch is one
 * transaction that checks the fence first and then upserts and deletes in bulk: durable once it
 * resolves (the commit is synchronous), and nothing of it is written under a stale fence.
 *
 * @example
 * ```ts
 * await store.auth(fence).write(new Map([["creds.json", bytes]]));
 * ```
 */
export class PostgresAuthFiles implements AuthFiles {
  readonly #options: PostgresAuthFilesOptions;

  constructor(options: PostgresAuthFilesOptions) {
    this.#options = options;
  }

  get #id(): string {
    return this.#options.fence.sessionId;
  }

  async exists(): Promise<boolean> {
    this.#options.assertUsable();
    const rows = await this.#options.sql`
      SELECT 1 FROM auth_files WHERE session_id = ${this.#id} LIMIT 1`;
    return rows.length > 0;
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    this.#options.assertUsable();
    assertAuthFileName(name);
    const rows = await this.#options.sql<{ data: Uint8Array }[]>`
      SELECT data FROM auth_files WHERE session_id = ${this.#id} AND name = ${name}`;
    if (rows.length === 0) return undefined;
    return await this.#options.codec.decode(rows[0].data, { sessionId: this.#id, name });
  }

  async list(): Promise<string[]> {
    this.#options.assertUsable();
    const rows = await this.#options.sql<{ name: string }[]>`
      SELECT name FROM auth_files WHERE session_id = ${this.#id} ORDER BY name`;
    return rows.map((row) => row.name);
  }

  write(changes: ReadonlyMap<string, Uint8Array | null>): Promise<void> {
    this.#options.assertUsable();
    for (const name of changes.keys()) assertAuthFileName(name);
    const { sql, fence, node, codec } = this.#options;
    return this.#options.track(this.#options.writes.run(this.#id, async () => {
      const upserts: { session_id: string; name: string; data: Uint8Array }[] = [];
      const deletes: string[] = [];
      for (const [name, data] of changes) {
        if (data === null) deletes.push(name);
        else {
          upserts.push({
            session_id: this.#id,
            name,
            data: await codec.encode(data, { sessionId: this.#id, name }),
          });
        }
      }
      await this.#options.retry("auth write", () =>
        transaction(sql, async (tx) => {
          await assertFence(tx, fence, node);
          for (let start = 0; start < upserts.length; start += UPSERT_CHUNK) {
            await tx`
            INSERT INTO auth_files ${tx(upserts.slice(start, start + UPSERT_CHUNK))}
            ON CONFLICT (session_id, name) DO UPDATE SET data = excluded.data`;
          }
          if (deletes.length > 0) {
            await tx`
            DELETE FROM auth_files WHERE session_id = ${this.#id} AND name = ANY(${deletes}::text[])`;
          }
        }));
    }));
  }

  delete(): Promise<void> {
    this.#options.assertUsable();
    const { sql, fence, node } = this.#options;
    return this.#options.track(this.#options.writes.run(this.#id, async () => {
      await this.#options.retry("auth delete", () =>
        transaction(sql, async (tx) => {
          await assertFence(tx, fence, node);
          await tx`DELETE FROM auth_files WHERE session_id = ${this.#id}`;
        }));
    }));
  }
}
