import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import type { EventBus } from "../domain/events.ts";
import type { SessionManager } from "../domain/session_manager.ts";
import type { Logger } from "../logger.ts";
import type { GatewayMetrics } from "../observability/gateway_metrics.ts";
import { registerApiDocs } from "./api_docs.ts";
import { registerDashboard } from "./dashboard/dashboard_routes.ts";
import { apiKeyAuth } from "./api_key_auth.ts";
import { errorResponse, validationErrorResponse } from "./error_handler.ts";
import { countRequests } from "./request_metrics.ts";
import type { NodeOverview } from "../ownership/cluster_overview.ts";
import type { OwnerDirectory } from "../ownership/owner_directory.ts";
import { type ForwardResult, ownerForwarding, SERVED_BY_HEADER } from "./owner_forwarding.ts";
import { registerClusterRoutes } from "./routes/cluster_routes.ts";
import type { RequestDrain } from "./request_drain.ts";
import { registerEventStreamRoutes } from "./routes/event_stream_routes.ts";
import { registerHealthRoutes } from "./routes/health_routes.ts";
import { registerMessageRoutes } from "./routes/message_routes.ts";
import { registerChatRoutes } from "./routes/chat_routes.ts";
import { registerGroupRoutes } from "./routes/group_routes.ts";
import { registerContactRoutes } from "./routes/contact_routes.ts";
import { registerMessageActionRoutes } from "./routes/message_action_routes.ts";
import type { MessageActions } from "../domain/message_actions.ts";
import type { IdempotentSends } from "../domain/idempotent_sends.ts";
import { registerMediaMessageRoutes, SEND_MESSAGE_PATH } from "./routes/media_message_routes.ts";
import type { MediaIntake } from "../media/media_intake.ts";
import type { MediaDownloads } from "../media/media_downloads.ts";
import { registerMediaDownloadRoutes } from "./routes/media_download_routes.ts";
import { registerMetricsRoute } from "./routes/metrics_routes.ts";
import { registerSessionLifecycleRoutes } from "./routes/session_lifecycle_routes.ts";
import { registerSessionRoutes } from "./routes/session_routes.ts";
import { type DeadLetterAdmin, registerWebhookRoutes } from "./routes/webhook_routes.ts";

export interface AppDependencies {
  manager: SessionManager;
  /** The bus the live event stream reads from. */
  events: EventBus;
  /** Aborted when the gateway shuts down: open event streams end so the drain can finish. */
  closing?: AbortSignal;
  logger: Logger;
  /** Largest accepted request body, in bytes. */
  maxBodyBytes: number;
  /** The key every `/api/*` request must carry. */
  apiKey: string;
  /** Origins allowed to call the API from a browser; CORS is off when empty or absent. */
  corsOrigins?: readonly string[];
  /** Counts requests and serves `/metrics`; without it there is no `/metrics`. */
  metrics?: GatewayMetrics;
  /** The webhook dead letters (the gateway's `WebhookService`). */
  deadLetters: DeadLetterAdmin;
  /** Sends with an `Idempotency-Key` (over the message store's records). */
  idempotentSends: IdempotentSends;
  /** Edits, deletions, read receipts and presence (over the message store). */
  messageActions: MessageActions;
  /** Keep-alive interval of event streams (default 15 s). */
  sseKeepAliveMs?: number;
  /** Answers 503 to API requests once the gateway drains; none, and requests are never refused. */
  drain?: RequestDrain;
  /** Takes in files to send (`MAX_MEDIA_BYTES`, URL fetches). */
  mediaIntake: MediaIntake;
  /** Downloads received files (`GET …/messages/{messageId}/media`). */
  mediaDownloads: MediaDownloads;
  /** Which node runs which session: requests for another node's sessions are forwarded there. */
  cluster?: ClusterDependencies;
}

/** What the app needs to work as one node of several. */
export interface ClusterDependencies {
  nodeId: string;
  owners: OwnerDirectory;
  overview: () => Promise<NodeOverview[]>;
  forwardTimeoutMs: number;
  retryAfterSeconds: number;
  onForward?: (result: ForwardResult) => void;
}

/**
 * Builds the HTTP application. It holds no state of its own: everything lives in the injected
 * dependencies, so tests drive it with `app.request()` against real objects on a temp dir.
 */
export function createApp(deps: AppDependencies): OpenAPIHono {
  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) return validationErrorResponse(result.error, c);
    },
  });
  if (deps.metrics) app.use("*", countRequests(deps.metrics.httpRequests));

  if (deps.corsOrigins?.length) {
    app.use(
      "*",
      cors({
        origin: [...deps.corsOrigins],
        allowMethods: ["GET", "POST", "PATCH", "DELETE"],
        allowHeaders: ["Content-Type", "Authorization", "X-Api-Key"],
        maxAge: 600,
      }),
    );
  }
  if (deps.cluster) {
    const nodeId = deps.cluster.nodeId;
    app.use("*", async (c, next) => {
      await next();
      // A forwarded request's answer already names the node that ran it.
      if (!c.res.headers.has(SERVED_BY_HEADER)) c.res.headers.set(SERVED_BY_HEADER, nodeId);
    });
  }
  // Before the body limit: an unauthenticated caller learns nothing, not even the size limit.
  app.use("/api/*", apiKeyAuth(deps.apiKey));
  if (deps.drain) app.use("/api/*", deps.drain.middleware());
  if (deps.cluster) {
    // After the key check (nothing is forwarded for a caller without one), before the body limit
    // (the owner applies it, and a body streams through untouched).
    app.use(
      "/api/sessions/*",
      ownerForwarding({
        owners: deps.cluster.owners,
        nodeId: deps.cluster.nodeId,
        timeoutMs: deps.cluster.forwardTimeoutMs,
        retryAfterSeconds: deps.cluster.retryAfterSeconds,
        logger: deps.logger,
        onForward: deps.cluster.onForward,
      }),
    );
  }
  const limitBody = bodyLimit({
    maxSize: deps.maxBodyBytes,
    onError: (c) =>
      c.json({
        error: {
          code: "payload_too_large",
          message: `Request body exceeds ${deps.maxBodyBytes} bytes`,
        },
      }, 413),
  });
  // Sends may carry a file: their route applies the media limits itself.
  app.use(
    "/api/*",
    (c, next) =>
      c.req.method === "POST" && SEND_MESSAGE_PATH.test(c.req.path) ? next() : limitBody(c, next),
  );

  registerHealthRoutes(app, () => deps.manager.readiness);
  registerSessionRoutes(app, deps.manager);
  registerSessionLifecycleRoutes(app, deps.manager);
  registerMediaMessageRoutes(app, {
    manager: deps.manager,
    intake: deps.mediaIntake,
    idempotentSends: deps.idempotentSends,
    maxBodyBytes: deps.maxBodyBytes,
  });
  registerMessageRoutes(app, deps.manager, deps.idempotentSends);
  registerChatRoutes(app, deps.manager);
  registerMediaDownloadRoutes(app, deps.manager, deps.mediaDownloads);
  registerMessageActionRoutes(app, deps.manager, deps.messageActions);
  registerGroupRoutes(app, deps.manager);
  registerContactRoutes(app, deps.manager);
  registerEventStreamRoutes(app, {
    events: deps.events,
    keepAliveMs: deps.sseKeepAliveMs ?? 15_000,
    shutdownSignal: deps.closing,
  });
  registerWebhookRoutes(app, deps.deadLetters);
  if (deps.cluster) registerClusterRoutes(app, deps.cluster.overview);
  if (deps.metrics) registerMetricsRoute(app, deps.metrics.registry);
  registerApiDocs(app);
  registerDashboard(app);

  app.notFound((c) =>
    c.json(
      { error: { code: "not_found", message: `No route for ${c.req.method} ${c.req.path}` } },
      404,
    )
  );
  app.onError((error, c) => errorResponse(error, c, deps.logger));
  return app;
}
