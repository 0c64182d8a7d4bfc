import { strict as assert } from "node:assert";
import type { SessionRecord } from "../../../src/domain/session.ts";
import type { SessionId } from "../../../src/domain/session_id.ts";
import { StatusHistory } from "../../../src/domain/status_history.ts";

const base: SessionRecord = {
  id: "shop-1" as SessionId,
  name: null,
  status: "connecting",
  desiredState: "running",
  phoneNumber: null,
  pushName: null,
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
  connectedAt: null,
  lastDisconnectedAt: null,
  lastDisconnect: null,
  webhooks: [],
};

Deno.test("StatusHistory keeps the latest changes per session, with the disconnect reason that came with one", () => {
  const history = new StatusHistory(3);
  history.record({ ...base, status: "qr", updatedAt: "t1" }, "connecting", "t1");
  history.record({ ...base, status: "connected", updatedAt: "t2" }, "qr", "t2");
  const dropped = {
    ...base,
    status: "reconnecting" as const,
    updatedAt: "t3",
    lastDisconnect: { code: 428, reason: "connection_closed", message: null, at: "t3" },
  };
  history.record(dropped, "connected", "t3");
  // An old disconnect does not explain a later change.
  history.record({ ...dropped, status: "connected", updatedAt: "t4" }, "reconnecting", "t4");
  assert.deepEqual(history.of(base.id), [
    { status: "connected", previousStatus: "qr", at: "t2", reason: null },
    { status: "reconnecting", previousStatus: "connected", at: "t3", reason: "connection_closed" },
    { status: "connected", previousStatus: "reconnecting", at: "t4", reason: null },
  ]);
  history.forget(base.id);
  assert.deepEqual(history.of(base.id), []);
});
