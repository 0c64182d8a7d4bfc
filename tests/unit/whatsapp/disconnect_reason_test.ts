import { strict as assert } from "node:assert";
import { classifyDisconnect } from "../../../src/whatsapp/disconnect_reason.ts";

Deno.test("classifyDisconnect() maps WhatsApp's codes to what the gateway does", () => {
  const cases: [number | undefined, string, string][] = [
    [515, "restart", "restart_required"],
    [401, "logged_out", "logged_out"],
    [440, "replaced", "connection_replaced"],
    [403, "fatal", "forbidden"],
    [411, "fatal", "multidevice_mismatch"],
    [428, "reconnect", "connection_closed"],
    [408, "reconnect", "connection_lost"],
    [500, "reconnect", "bad_session"],
    [503, "reconnect", "service_unavailable"],
    [502, "reconnect", "server_error"],
    [undefined, "reconnect", "connection_error"],
  ];
  for (const [code, action, reason] of cases) {
    assert.deepEqual(classifyDisconnect(code), { action, reason }, String(code));
  }
});
