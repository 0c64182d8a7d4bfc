import assert from "node:assert/strict";
import { loadConfig } from "../../src/config.ts";
import { EventBus } from "../../src/domain/events.ts";
import type { IncomingMessage, SentMessage } from "../../src/domain/message.ts";
import type { PublicSessionRecord, SessionRecord } from "../../src/domain/session.ts";
import type { SessionId } from "../../src/domain/session_id.ts";
import { startGateway } from "../../src/gateway.ts";
import { openPersistence } from "../../src/main.ts";
import { GatewayMetrics } from "../../src/observability/gateway_metrics.ts";
import { openCoreApp, requestJson } from "../support/core_app.ts";
import { testLogger } from "../support/logger.ts";
import { parseExposition, sampleValue } from "../support/prometheus_text.ts";
import { withTempDir } from "../support/temp_dir.ts";

async function scrape(fetcher: (path: string) => Response | Promise<Response>) {
  const response = await fetcher("/metrics");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return parseExposition(await response.text());
}

Deno.test("GET /metrics exposes every gateway metric with # HELP and # TYPE", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir, { metrics: new GatewayMetrics() });
    try {
      const families = await scrape((path) => core.app.request(path));
      const types = Object.fromEntries([...families.values()].map((f) => [f.name, f.type]));
      assert.deepEqual(types, {
        wa_session_reconnects_total: "counter",
        wa_persistence_write_seconds: "histogram",
        wa_http_requests_total: "counter",
        wa_messages_sent_total: "counter",
        wa_messages_received_total: "counter",
        wa_message_status_updates_total: "counter",
        wa_webhook_dead_letters: "gauge",
        wa_webhook_deliveries_total: "counter",
        wa_connection_worker_failures_total: "counter",
        wa_connection_workers: "gauge",
        wa_storage_full_total: "counter",
        wa_storage_writable: "gauge",
        wa_sessions: "gauge",
        wa_signature_verifications_total: "counter",
      });
      for (const family of families.values()) assert.ok(family.help.length > 0, family.name);
      assert.equal(sampleValue(families, "wa_webhook_deliveries_total", { result: "failure" }), 0);
      assert.equal(sampleValue(families, "wa_sessions", { status: "connected" }), 0);
      assert.equal(sampleValue(families, "wa_storage_writable"), 1);
    } finally {
      await core.close();
    }
  });
});

Deno.test("wa_sessions counts sessions by status, at every scrape", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir, { metrics: new GatewayMetrics() });
    try {
      for (const id of ["a", "b", "secret-shop-name"]) {
        assert.equal((await requestJson(core.app, "POST", "/api/sessions", { id })).status, 201);
      }
      const text = await (await requestJson(core.app, "GET", "/metrics", undefined, {
        apiKey: null,
      })).text();
      assert.ok(!text.includes("secret-shop-name"), "counts only, no ids");
      const families = await scrape((path) => core.app.request(path));
      const byStatus: Record<string, number> = {};
      for (const sample of families.get("wa_sessions")!.samples) {
        byStatus[sample.labels.status] = sample.value;
      }
      const expected: Record<string, number> = {};
      for (const session of core.manager.runningHere()) {
        expected[session.status] = (expected[session.status] ?? 0) + 1;
      }
      for (const [status, count] of Object.entries(byStatus)) {
        assert.equal(count, expected[status] ?? 0, status);
      }
      assert.equal(Object.values(byStatus).reduce((a, b) => a + b), 3);
      assert.equal(byStatus.disconnected, 3, "without WhatsApp connections");
      await requestJson(core.app, "DELETE", "/api/sessions/secret-shop-name");
      const after = await scrape((path) => core.app.request(path));
      assert.equal(sampleValue(after, "wa_sessions", { status: "disconnected" }), 2);
    } finally {
      await core.close();
    }
  });
});

Deno.test("wa_http_requests_total counts by route pattern, method and status", async () => {
  await withTempDir(async (dir) => {
    const core = await openCoreApp(dir, { metrics: new GatewayMetrics() });
    try {
      await requestJson(core.app, "POST", "/api/sessions", { id: "shop-1" });
      await requestJson(core.app, "GET", "/api/sessions/shop-1");
      await requestJson(core.app, "GET", "/api/sessions/nope");
      await requestJson(core.app, "GET", "/api/sessions/other");
      await requestJson(core.app, "POST", "/api/sessions", { id: "bad id" });
      await requestJson(core.app, "GET", "/no/such/route");
      const families = await scrape((path) => core.app.request(path));
      const count = (method: string, route: string, status: string) =>
        sampleValue(families, "wa_http_requests_total", { method, route, status });
      assert.equal(count("POST", "/api/sessions", "201"), 1);
      assert.equal(count("POST", "/api/sessions", "400"), 1);
      assert.equal(count("GET", "/api/sessions/:id", "200"), 1);
      assert.equal(count("GET", "/api/sessions/:id", "404"), 2, "ids do not make new series");
      assert.equal(count("GET", "unmatched", "404"), 1);
      const again = await scrape((path) => core.app.request(path));
      assert.equal(
        sampleValue(again, "wa_http_requests_total", { route: "/metrics", status: "200" }),
        1,
        "the first scrape is counted by the second",
      );
    } finally {
      await core.close();
    }
  });
});

Deno.test("received and sent messages and status changes are counted from the event bus", () => {
  const bus = new EventBus();
  const metrics = new GatewayMetrics();
  metrics.observe(bus);
  const base = { sessionId: "shop-1" as SessionId, at: new Date().toISOString() };
  bus.publish({ ...base, type: "message.received", message: {} as IncomingMessage });
  bus.publish({ ...base, type: "message.received", message: {} as IncomingMessage });
  bus.publish({
    ...base,
    type: "message.sent",
    message: {} as SentMessage,
    content: { type: "text", text: "hi" },
  });
  for (const status of ["sent", "delivered", "delivered"] as const) {
    bus.publish({
      ...base,
      type: "message.status",
      messageId: "m1",
      chat: "15550001111@s.whatsapp.net",
      status,
      previousStatus: null,
    });
  }
  const families = parseExposition(metrics.registry.render());
  assert.equal(sampleValue(families, "wa_messages_received_total"), 2);
  assert.equal(sampleValue(families, "wa_messages_sent_total"), 1);
  assert.equal(
    sampleValue(families, "wa_message_status_updates_total", { status: "delivered" }),
    2,
  );
  assert.equal(sampleValue(families, "wa_message_status_updates_total", { status: "sent" }), 1);
});

Deno.test("webhook attempts and dead letters are reported", () => {
  const metrics = new GatewayMetrics();
  let deadLetters = 0;
  metrics.trackDeadLetters(() => deadLetters);
  metrics.recordWebhookAttempt(true);
  metrics.recordWebhookAttempt(false);
  metrics.recordWebhookAttempt(false);
  deadLetters = 3;
  const families = parseExposition(metrics.registry.render());
  assert.equal(sampleValue(families, "wa_webhook_deliveries_total", { result: "success" }), 1);
  assert.equal(sampleValue(families, "wa_webhook_deliveries_total", { result: "failure" }), 2);
  assert.equal(sampleValue(families, "wa_webhook_dead_letters"), 3);
});

Deno.test("wa_session_reconnects_total counts each entry into reconnecting", () => {
  const bus = new EventBus();
  const metrics = new GatewayMetrics();
  const stop = metrics.observe(bus);
  const status = (previousStatus: SessionRecord["status"], status: SessionRecord["status"]) =>
    bus.publish({
      type: "session.status",
      sessionId: "shop-1" as SessionId,
      at: new Date().toISOString(),
      previousStatus,
      status,
      session: {} as PublicSessionRecord,
    });
  status("connected", "reconnecting");
  status("reconnecting", "connecting");
  status("connecting", "reconnecting");
  status("reconnecting", "connected");
  status("connected", "disconnected");
  assert.equal(metrics.sessionReconnects.get(), 2);
  stop();
  status("connected", "reconnecting");
  assert.equal(metrics.sessionReconnects.get(), 2);
});

Deno.test("a running gateway times its persistence writes and serves /metrics", async () => {
  await withTempDir(async (dataDir) => {
    const config = loadConfig({ PORT: "0", SESSIONS_DATA_PATH: dataDir });
    const logger = testLogger();
    const persistence = await openPersistence(config, logger);
    const gateway = await startGateway({ config, logger, persistence });
    try {
      const url = `http://${gateway.address.hostname}:${gateway.address.port}`;
      // Through the manager rather than the API, which needs a key once API keys are in.
      await gateway.manager.create({ id: "shop-1", name: null });
      gateway.metrics.messagesSent.inc();
      const families = await scrape((path) => fetch(`${url}${path}`));
      const writes = sampleValue(families, "wa_persistence_write_seconds_count", {
        kind: "metadata",
      });
      assert.ok(writes !== undefined && writes >= 1, `metadata writes: ${writes}`);
      assert.equal(sampleValue(families, "wa_messages_sent_total"), 1);
      assert.equal(
        sampleValue(families, "wa_sessions", { status: "initializing" }) !== undefined,
        true,
      );
    } finally {
      await gateway.shutdown();
    }
  });
});

Deno.test("METRICS_ENABLED=false removes /metrics", async () => {
  await withTempDir(async (dataDir) => {
    const config = loadConfig({ PORT: "0", SESSIONS_DATA_PATH: dataDir, METRICS_ENABLED: "false" });
    const logger = testLogger();
    const persistence = await openPersistence(config, logger);
    const gateway = await startGateway({ config, logger, persistence });
    try {
      const url = `http://${gateway.address.hostname}:${gateway.address.port}`;
      const response = await fetch(`${url}/metrics`);
      assert.equal(response.status, 404);
      await response.body?.cancel();
    } finally {
      await gateway.shutdown();
    }
  });
});
