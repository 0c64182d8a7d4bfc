import { messageStoreContract } from "../../support/message_store_contract.ts";
import { withMigratedDatabase } from "../../support/postgres_fixtures.ts";
import {
  leasedSessions,
  postgresMessageStore,
  takeOver,
} from "../../support/postgres_message_fixtures.ts";
import { postgresTest } from "../../support/postgres_test.ts";

// The contract writes as epoch 1 of shop-1 and shop-2: the first leases of a fresh database.
messageStoreContract((name, fn) =>
  postgresTest(
    `PostgresMessageStore: ${name}`,
    (pg) =>
      withMigratedDatabase(pg, async (clients) => {
        const admin = clients.open(2);
        await leasedSessions(admin, ["shop-1", "shop-2"]);
        await fn({
          create: ({ retention, clock }) => postgresMessageStore(clients, { retention, clock }),
          staleFence: async (id) => {
            const [held] = await admin<{ epoch: string }[]>`
            SELECT epoch FROM leases WHERE session_id = ${id}`;
            await takeOver(admin, id);
            return { sessionId: id, epoch: Number(held.epoch) };
          },
        });
      }),
  )
);
