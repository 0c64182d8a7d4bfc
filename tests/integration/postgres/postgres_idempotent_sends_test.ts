/**
 * Idempotent sends on two nodes sharing one database: the key's record is the database's, so a
 * retry on the node that took the session over finds it, and the node that lost the session can
 * neither claim nor complete a key any more.
 */
import assert from "node:assert/strict";
import { FencedOutError, IdempotencyKeyInFlightError } from "../../../src/domain/errors.ts";
import type { Fence } from "../../../src/domain/fence.ts";
import { IdempotentSends } from "../../../src/domain/idempotent_sends.ts";
import type { SessionId } from "../../../src/domain/session_id.ts";
import { withMigratedDatabase } from "../../support/postgres_fixtures.ts";
import {
  leasedSessions,
  postgresMessageStore,
  takeOver,
} from "../../support/postgres_message_fixtures.ts";
import { postgresTest } from "../../support/postgres_test.ts";

const S1 = "shop-1" as SessionId;
const BODY = { to: "15550009999", type: "text", text: "hi" };
const sent = (id: string) => ({ status: 201, body: { id } });

postgresTest(
  "a send cut short by a takeover is finished by the new owner with the same id",
  (pg) =>
    withMigratedDatabase(pg, async (clients) => {
      const admin = clients.open(2);
      const [leaseA] = await leasedSessions(admin, ["shop-1"]);
      const storeA = postgresMessageStore(clients, { nodeId: "node-a" });
      const storeB = postgresMessageStore(clients, { nodeId: "node-b" });
      await Promise.all([storeA.open(), storeB.open()]);
      let fenceB: Fence = { sessionId: S1, epoch: 0 };
      const nodeA = new IdempotentSends({ records: storeA.idempotency, fenceOf: () => leaseA });
      const nodeB = new IdempotentSends({ records: storeB.idempotency, fenceOf: () => fenceB });

      const released = Promise.withResolvers<void>();
      const reachedWhatsApp = Promise.withResolvers<string>();
      const first = nodeA.send(S1, "order-1", BODY, async (messageId) => {
        reachedWhatsApp.resolve(messageId);
        await released.promise; // A freezes mid-send
        return sent(messageId);
      });
      const firstId = await reachedWhatsApp.promise;
      // On A itself the key is in flight.
      await assert.rejects(
        () => nodeA.send(S1, "order-1", BODY, () => Promise.resolve(sent("x"))),
        IdempotencyKeyInFlightError,
      );
      // B cannot claim the key while A holds the session.
      await assert.rejects(
        () => nodeB.send(S1, "order-1", BODY, () => Promise.resolve(sent("x"))),
        FencedOutError,
      );

      fenceB = await takeOver(admin, "shop-1", "node-b");
      const resumed: { messageId: string; resumed: boolean }[] = [];
      const second = await nodeB.send(S1, "order-1", BODY, (messageId, wasResumed) => {
        resumed.push({ messageId, resumed: wasResumed });
        return Promise.resolve(sent(messageId));
      });
      assert.deepEqual(resumed, [{ messageId: firstId, resumed: true }], "the same id, sent again");
      assert.deepEqual(second.response, sent(firstId));

      released.resolve();
      await assert.rejects(first, FencedOutError, "A's late answer is refused");
      const replay = await nodeB.send(S1, "order-1", BODY, () => {
        throw new Error("not sent again");
      });
      assert.deepEqual(replay, { response: sent(firstId), replayed: true });
      await Promise.all([storeA.close(), storeB.close()]);
    }),
);
