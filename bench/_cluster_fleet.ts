/**
 * What the cluster benchmark is built from: sessions linked once and kept as PostgreSQL template
 * databases (every run gets a fresh copy), nodes started together, the time until sessions are
 * connected on a node, and texts sent through the API whose acknowledgements are checked against
 * what the contact received.
 */
import postgres from "postgres";
import { freePort, TestCluster } from "../tests/support/cluster.ts";
import type { FakeWhatsApp } from "../tests/support/fake_whatsapp/server.ts";
import type { TestPostgres } from "../tests/support/postgres_server.ts";

/** The session ids of the benchmark, `cb-000` on. */
export const idOf = (i: number): string => `cb-${String(i).padStart(3, "0")}`;
const phoneOf = (i: number) => `1777${String(i).padStart(7, "0")}`;

/** `count` session ids from the first. */
export const idsUpTo = (count: number): string[] =>
  Array.from({ length: count }, (_, i) => idOf(i));

/** What every scenario shares: the database server, the fake WhatsApp server, a directory. */
export interface Fleet {
  pg: TestPostgres;
  fake: FakeWhatsApp;
  /** A directory for the nodes' data directories (removed by the caller). */
  root: string;
  /** Settings of every node, on top of `TestCluster`'s. */
  env: Record<string, string>;
}

let databases = 0;
let clusters = 0;

/** The server `pg` with its `url` pointing at database `name`, as `TestCluster` takes it. */
function onDatabase(pg: TestPostgres, name: string): TestPostgres {
  return { ...pg, url: pg.urlOf(name) };
}

async function admin<T>(pg: TestPostgres, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end();
  }
}

/** A fresh copy of the template database `template` (a file copy: seconds, not a replay). */
export async function copyDatabase(pg: TestPostgres, template: string): Promise<string> {
  const name = `run_${++databases}`;
  await admin(
    pg,
    (sql) => sql.unsafe(`CREATE DATABASE ${name} TEMPLATE ${template} STRATEGY FILE_COPY`),
  );
  return name;
}

/** Drops a database, cutting whatever is still connected to it. */
export async function dropDatabase(pg: TestPostgres, name: string): Promise<void> {
  await admin(pg, (sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/** A cluster with no node running yet, on database `db`, its nodes' data under a fresh folder. */
export async function emptyCluster(
  fleet: Fleet,
  db: string,
  leaseTtlMs: number,
): Promise<TestCluster> {
  const root = `${fleet.root}/cluster-${++clusters}`;
  await Deno.mkdir(root, { recursive: true });
  return await TestCluster.start({
    fake: fleet.fake,
    pg: onDatabase(fleet.pg, db),
    root,
    nodes: [],
    leaseTtlMs,
    env: fleet.env,
  });
}

/**
 * Links sessions `from` to `to - 1` into database `db` through node `a` of a three-node cluster
 * (placement spreads them), waits until every session of the database is connected, and stops
 * the nodes cleanly (their leases released): the database is then a template of linked sessions.
 */
export async function linkInto(fleet: Fleet, db: string, from: number, to: number): Promise<void> {
  const cluster = await emptyCluster(fleet, db, 20_000);
  try {
    for (const id of ["a", "b", "c"]) await cluster.startNode(id);
    const { client } = cluster.node("a");
    // A few at a time: every link is a login and a pre-key upload on a 2-core machine.
    for (let start = from; start < to; start += 6) {
      const batch = Array.from({ length: Math.min(6, to - start) }, (_, j) => start + j);
      await Promise.all(batch.map(async (i) => {
        await client.createSession(idOf(i), `Bench ${i}`);
        const qr = await client.waitForQr(idOf(i), 60_000);
        await fleet.fake.pairWithQr(qr, { phoneNumber: phoneOf(i) });
      }));
    }
    await cluster.waitForConnected(idsUpTo(to), { timeoutMs: 300_000 });
    await Promise.all(["a", "b", "c"].map((id) => cluster.stop(id)));
  } finally {
    await cluster.dispose();
  }
}

/** Renames database `db` to `template` (no one may be connected to it). */
export async function keepAsTemplate(
  pg: TestPostgres,
  db: string,
  template: string,
): Promise<void> {
  await admin(pg, (sql) => sql.unsafe(`ALTER DATABASE ${db} RENAME TO ${template}`));
}

/**
 * Starts `ids` at the same time on free ports. With `preRegister`, the nodes are first entered in
 * the nodes table as alive, as in a cluster that is already up: each node's first pass then takes
 * only its share of the unowned sessions (without it, the first node to pass takes them all).
 */
export async function startTogether(
  cluster: TestCluster,
  pg: TestPostgres,
  db: string,
  ids: string[],
  preRegister: boolean,
): Promise<void> {
  const ports = new Map(ids.map((id) => [id, freePort()]));
  if (preRegister) {
    const sql = postgres(pg.urlOf(db), { max: 1, onnotice: () => {} });
    try {
      for (const [id, port] of ports) {
        await sql`
          INSERT INTO nodes (id, url, started_at, heartbeat_at, ttl_ms, draining)
          VALUES (${id}, ${`http://127.0.0.1:${port}`}, now(), now(), 60000, false)`;
      }
    } finally {
      await sql.end();
    }
  }
  await Promise.all(ids.map((id) => cluster.startNode(id, ports.get(id))));
}

/** How long, in ms, until each lease `holder` holds in `db` lapses, longest first. */
export async function leaseTimeLeft(
  pg: TestPostgres,
  db: string,
  holder: string,
): Promise<number[]> {
  const sql = postgres(pg.urlOf(db), { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ ms: number }[]>`
      SELECT (extract(epoch FROM expires_at - now()) * 1000)::float8 AS ms
      FROM leases WHERE holder = ${holder} ORDER BY expires_at DESC`;
    return rows.map((row) => row.ms);
  } finally {
    await sql.end();
  }
}

/**
 * Polls (through `via`) until each of `ids` has been connected, since the wall-clock time `since`,
 * on a node that passes `where`; returns for each how long after `since` its owner recorded it
 * connected (its `connectedAt`). Throws after `timeoutMs`, naming the ones still missing.
 */
export async function connectedSince(
  cluster: TestCluster,
  ids: readonly string[],
  options: { since: number; via: string; where?: (node: string) => boolean; timeoutMs: number },
): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  const deadline = Date.now() + options.timeoutMs;
  const wanted = new Set(ids);
  while (found.size < wanted.size) {
    if (Date.now() > deadline) {
      const missing = ids.filter((id) => !found.has(id));
      throw new Error(`not connected in time: ${missing.slice(0, 10).join(", ")}…`);
    }
    try {
      for (const session of await cluster.sessions(options.via)) {
        if (!wanted.has(session.id) || found.has(session.id)) continue;
        const at = session.connectedAt ? Date.parse(session.connectedAt) : NaN;
        const onNode = session.node !== null && (options.where?.(session.node) ?? true);
        if (session.status === "connected" && onNode && at >= options.since) {
          found.set(session.id, at - options.since);
        }
      }
    } catch {
      // the node asked is busy or starting; ask again
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return found;
}

/** When each of `ids` was acquired (a `session acquired` line) by a node, after `since`. */
export function acquiredSince(
  cluster: TestCluster,
  ids: readonly string[],
  since: number,
): Map<string, number> {
  const wanted = new Set(ids);
  const acquired = new Map<string, number>();
  for (const node of cluster.nodes) {
    for (const line of node.gateway.logs) {
      if (line.msg !== "session acquired" || !wanted.has(String(line.sessionId))) continue;
      const at = Date.parse(String(line.time));
      if (at >= since && !acquired.has(String(line.sessionId))) {
        acquired.set(String(line.sessionId), at - since);
      }
    }
  }
  return acquired;
}

/**
 * Texts sent to one contact through the API of some nodes, round-robin over sessions, a few in
 * flight, until stopped. Every 201 is an acknowledged write: its text must reach the contact.
 */
export class AcknowledgedSends {
  readonly acknowledged: string[] = [];
  /** How many answers of each HTTP status (0: no answer in time). */
  readonly statuses = new Map<number, number>();
  #sending = false;
  #loops: Promise<void>[] = [];
  #sent = 0;

  constructor(
    readonly cluster: TestCluster,
    readonly vias: string[],
    readonly ids: string[],
    readonly contact: string,
    readonly tag: string,
  ) {}

  /** Starts `inFlight` sending loops. */
  start(inFlight = 3): void {
    this.#sending = true;
    this.#loops = Array.from({ length: inFlight }, () => this.#loop());
  }

  /** Stops sending and waits for the requests in flight. */
  async stop(): Promise<void> {
    this.#sending = false;
    await Promise.all(this.#loops);
  }

  async #loop(): Promise<void> {
    while (this.#sending) {
      const n = this.#sent++;
      const id = this.ids[n % this.ids.length];
      const via = this.cluster.node(this.vias[n % this.vias.length]);
      const text = `${this.tag} #${n} from ${id}`;
      let status = 0;
      try {
        const response = await fetch(`${via.url}/api/sessions/${id}/messages`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": via.gateway.apiKey! },
          body: JSON.stringify({ type: "text", to: `+${this.contact}`, text }),
          signal: AbortSignal.timeout(20_000),
        });
        status = response.status;
        await response.body?.cancel();
      } catch {
        // no answer in time: not acknowledged
      }
      this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
      if (status === 201) this.acknowledged.push(text);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** The acknowledged texts the contact has not received after waiting up to `timeoutMs`. */
  async lost(fake: FakeWhatsApp, timeoutMs: number): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const received = new Set(fake.receivedMessages({ to: this.contact }).map((m) => m.text));
      const missing = this.acknowledged.filter((text) => !received.has(text));
      if (missing.length === 0 || Date.now() > deadline) return missing;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
