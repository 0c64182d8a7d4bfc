/**
 * Several gateway processes on one PostgreSQL: a cluster for end-to-end tests, every node a real
 * `deno run` child with `STORE=postgres`, its own port, data directory and `NODE_ID`, all against
 * one fake WhatsApp server.
 */
import type { FakeWhatsApp } from "./fake_whatsapp/server.ts";
import { GatewayClient, type SessionView } from "./gateway_client.ts";
import { type GatewayProcess, spawnGateway, stopGracefully } from "./gateway_process.ts";
import type { TestPostgres } from "./postgres_server.ts";

/** One node of a test cluster. */
export interface ClusterNode {
  id: string;
  port: number;
  url: string;
  dataDir: string;
  gateway: GatewayProcess;
  client: GatewayClient;
}

/** A session as `GET /api/sessions` shows it on a cluster. */
export type ClusteredSession = SessionView & { node: string | null };

/** Options of {@linkcode TestCluster.start}. */
export interface ClusterOptions {
  fake: FakeWhatsApp;
  pg: TestPostgres;
  /** A directory the nodes' data directories go in (removed by the caller). */
  root: string;
  /** Node ids, in start order. */
  nodes: string[];
  /** `LEASE_TTL_MS` (short in tests: takeovers then take seconds, not half a minute). */
  leaseTtlMs?: number;
  env?: Record<string, string>;
}

/** A free TCP port on loopback (bound and released: a node's `NODE_URL` needs it before it starts). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * A cluster of gateway nodes: start, stop, kill, freeze and restart nodes, and read the cluster's
 * view of its sessions through any node.
 *
 * @example
 * ```ts
 * const cluster = await TestCluster.start({ fake, pg, root, nodes: ["a", "b", "c"] });
 * try { ... cluster.node("a").client ... } finally { await cluster.dispose(); }
 * ```
 */
export class TestCluster {
  readonly #options: ClusterOptions;
  readonly #nodes = new Map<string, ClusterNode>();

  private constructor(options: ClusterOptions) {
    this.#options = options;
  }

  /** Starts every node, one after the other (each is listening before the next starts). */
  static async start(options: ClusterOptions): Promise<TestCluster> {
    const cluster = new TestCluster(options);
    try {
      for (const id of options.nodes) await cluster.startNode(id);
    } catch (error) {
      await cluster.dispose();
      throw error;
    }
    return cluster;
  }

  /** The nodes that run now. */
  get nodes(): ClusterNode[] {
    return [...this.#nodes.values()];
  }

  node(id: string): ClusterNode {
    const node = this.#nodes.get(id);
    if (!node) throw new Error(`no running node ${id}`);
    return node;
  }

  /** Starts node `id` (again, on the same port and data directory, if it ran before). */
  async startNode(id: string, port = this.#portOf(id)): Promise<ClusterNode> {
    const { fake, pg, root } = this.#options;
    const dataDir = `${root}/${id}`;
    await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
    const gateway = await spawnGateway({
      dataDir,
      env: {
        STORE: "postgres",
        DATABASE_URL: pg.url,
        NODE_ID: id,
        NODE_URL: `http://127.0.0.1:${port}`,
        PORT: String(port),
        LEASE_TTL_MS: String(this.#options.leaseTtlMs ?? 6_000),
        FORWARD_TIMEOUT_MS: "3000",
        WA_WS_URL: fake.wsUrl,
        WA_TEST_ROOT_PUBKEY: fake.rootPublicKeyBase64,
        RECONNECT_INITIAL_DELAY_MS: "50",
        RECONNECT_MAX_DELAY_MS: "500",
        SHUTDOWN_TIMEOUT_MS: "20000",
        CONNECTION_WORKERS: "1",
        ...this.#options.env,
      },
    });
    const node: ClusterNode = {
      id,
      port,
      url: gateway.url,
      dataDir,
      gateway,
      client: new GatewayClient(gateway.url, gateway.apiKey),
    };
    this.#nodes.set(id, node);
    this.#ports.set(id, port);
    return node;
  }

  /** `kill -9` of a node. */
  async kill(id: string): Promise<void> {
    const node = this.node(id);
    node.gateway.kill("SIGKILL");
    await node.gateway.exited;
    this.#nodes.delete(id);
  }

  /** SIGTERM: the node drains (closes its sockets, releases its leases) and must exit 0. */
  async stop(id: string): Promise<void> {
    await stopGracefully(this.node(id).gateway);
    this.#nodes.delete(id);
  }

  /** Every session as the cluster's store has it, read through `via` (any node answers). */
  async sessions(via = this.nodes[0].id): Promise<ClusteredSession[]> {
    return await this.node(via).client.sessions() as ClusteredSession[];
  }

  /**
   * Polls (through `via`) until every one of `ids` is connected on a node that passes `where`;
   * returns the sessions. `timeoutMs` bounds the whole wait.
   */
  async waitForConnected(
    ids: readonly string[],
    options: { where?: (node: string) => boolean; timeoutMs?: number; via?: string } = {},
  ): Promise<ClusteredSession[]> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    const wanted = new Set(ids);
    let last: ClusteredSession[] = [];
    while (Date.now() < deadline) {
      try {
        last = (await this.sessions(options.via)).filter((s) => wanted.has(s.id));
        const done = last.length === wanted.size &&
          last.every((s) =>
            s.status === "connected" && s.node !== null && (options.where?.(s.node) ?? true)
          );
        if (done) return last;
      } catch {
        // the node asked may be busy; ask again
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const summary = last.map((s) => `${s.id}:${s.status}@${s.node}`).join(" ");
    throw new Error(`sessions not all connected in time: ${summary}`);
  }

  /** Kills every node still running. */
  async dispose(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.gateway.dispose()));
    this.#nodes.clear();
  }

  readonly #ports = new Map<string, number>();

  #portOf(id: string): number {
    return this.#ports.get(id) ?? freePort();
  }
}

/** How many sessions each node runs, from a cluster's session list. */
export function spread(sessions: readonly ClusteredSession[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const session of sessions) {
    const node = session.node ?? "none";
    counts[node] = (counts[node] ?? 0) + 1;
  }
  return counts;
}
