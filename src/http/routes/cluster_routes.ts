import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { NodeOverview } from "../../ownership/cluster_overview.ts";

const NodeSchema = z
  .object({
    id: z.string().openapi({ example: "gw-1" }),
    url: z.string().openapi({ example: "http://10.0.0.1:3000" }),
    startedAt: z.string(),
    lastHeartbeatAt: z.string(),
    alive: z.boolean().openapi({ description: "Heartbeat recent enough (the store's clock)" }),
    draining: z.boolean().openapi({ description: "Shutting down: takes no new sessions" }),
    sessions: z.number().int().openapi({ description: "Sessions whose lease it holds" }),
    self: z.boolean().openapi({ description: "Whether this node answered the request" }),
  })
  .openapi("ClusterNode");

const listNodes = createRoute({
  method: "get",
  path: "/api/cluster/nodes",
  operationId: "listClusterNodes",
  tags: ["Cluster"],
  summary: "The gateway nodes sharing this store",
  description: "Every registered node with its URL, last heartbeat and the number of sessions " +
    "it owns. Any node answers the same, from the store. With the file store there is one node.",
  responses: {
    200: {
      description: "Nodes, by id",
      content: { "application/json": { schema: z.object({ nodes: z.array(NodeSchema) }) } },
    },
  },
});

/** `GET /api/cluster/nodes`. */
export function registerClusterRoutes(
  app: OpenAPIHono,
  nodes: () => Promise<NodeOverview[]>,
): void {
  app.openapi(listNodes, async (c) => c.json({ nodes: await nodes() }, 200));
}
