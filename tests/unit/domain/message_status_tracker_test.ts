import { strict as assert } from "node:assert";
import { MessageStatusTracker } from "../../../src/domain/message_status_tracker.ts";
import type { SessionId } from "../../../src/domain/session_id.ts";

const shop = "shop-1" as SessionId;
const to = "15550009999@s.whatsapp.net";

Deno.test("MessageStatusTracker maps a receipt to the message sent, forward only", () => {
  const tracker = new MessageStatusTracker();
  tracker.sent(shop, { id: "M1", to, status: "sent" });
  assert.deepEqual(tracker.update(shop, "M1", "delivered"), {
    status: "delivered",
    previousStatus: "sent",
    to,
  });
  assert.deepEqual(tracker.update(shop, "M1", "read"), {
    status: "read",
    previousStatus: "delivered",
    to,
  });
  assert.equal(tracker.update(shop, "M1", "delivered"), null, "a late receipt is dropped");
  assert.equal(tracker.update(shop, "M1", "read"), null, "a repeated receipt is dropped");
  assert.equal(tracker.status(shop, "M1"), "read");
});

Deno.test("MessageStatusTracker reports an unknown message once, without a previous status", () => {
  const tracker = new MessageStatusTracker();
  assert.deepEqual(tracker.update(shop, "M9", "read"), {
    status: "read",
    previousStatus: null,
    to: null,
  });
  assert.equal(tracker.update("other" as SessionId, "M9", "read")?.previousStatus, null);
});

Deno.test("MessageStatusTracker is bounded: the least recently touched are forgotten", () => {
  const tracker = new MessageStatusTracker(3);
  for (const id of ["A", "B", "C"]) tracker.sent(shop, { id, to, status: "sent" });
  tracker.update(shop, "A", "delivered");
  tracker.sent(shop, { id: "D", to, status: "sent" });
  assert.equal(tracker.size, 3);
  assert.equal(tracker.status(shop, "B"), undefined);
  assert.equal(tracker.status(shop, "A"), "delivered");
  tracker.forgetSession(shop);
  assert.equal(tracker.size, 0);
});
