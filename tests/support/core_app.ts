import type { OpenAPIHono } from "@hono/zod-openapi";
import type { ConnectionFactory } from "../../src/domain/connection.ts";
import { EventBus, type GatewayEvent } from "../../src/domain/events.ts";
import { type RestoreReport, SessionManager } from "../../src/domain/session_manager.ts";
import { createApp } from "../../src/http/app.ts";
import type { GatewayMetrics } from "../../src/observability/gateway_metrics.ts";
import { FileSessionStore } from "../../src/persistence/file_session_store.ts";
import { testLogger } from "./logger.ts";

/** The real store, manager and HTTP app on a data directory, as `startGateway` wires them. */
export interface CoreApp {
  app: OpenAPIHono;
  manager: SessionManager;
  store: FileSessionStore;
  events: GatewayEvent[];
  restoreReport: RestoreReport;
  close(): Promise<void>;
}

export async function openCoreApp(
  dataDir: string,
  options: { connections?: ConnectionFactory; maxBodyBytes?: number; metrics?: GatewayMetrics } =
    {},
): Promise<CoreApp> {
  const logger = testLogger();
  const store = new FileSessionStore({ dataDir, logger });
  const bus = new EventBus();
  const events: GatewayEvent[] = [];
  bus.subscribe((event) => events.push(event));
  const manager = new SessionManager({
    store,
    logger,
    events: bus,
    connections: options.connections,
  });
  options.metrics?.trackSessions(() => manager.list());
  options.metrics?.observe(bus);
  const restoreReport = await manager.restore();
  await manager.connectRestored();
  const app = createApp({
    manager,
    logger,
    maxBodyBytes: options.maxBodyBytes ?? 64 * 1024,
    metrics: options.metrics,
  });
  return {
    app,
    manager,
    store,
    events,
    restoreReport,
    async close() {
      await manager.shutdown();
      await store.close();
    },
  };
}

/** Sends a JSON request to the app. */
export function requestJson(
  app: OpenAPIHono,
  method: string,
  path: string,
  body?: unknown,
): Promise<Response> {
  return Promise.resolve(app.request(path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  }));
}

/** Marks a session as linked on disk the way Baileys' multi-file layout does: a creds.json. */
export async function writeFakeCreds(dataDir: string, sessionId: string): Promise<void> {
  await Deno.mkdir(`${dataDir}/${sessionId}`, { recursive: true });
  await Deno.writeTextFile(
    `${dataDir}/${sessionId}/creds.json`,
    JSON.stringify({ registrationId: 1, me: { id: "15550001111:1@s.whatsapp.net" } }),
  );
}

/** Reads and parses the metadata file. */
export async function readMetadata(
  dataDir: string,
): Promise<Record<string, Record<string, unknown>>> {
  return JSON.parse(await Deno.readTextFile(`${dataDir}/sessions-metadata.json`));
}
