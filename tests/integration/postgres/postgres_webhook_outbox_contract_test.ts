import { PostgresWebhookOutbox } from "../../../src/persistence/postgres/postgres_webhook_outbox.ts";
import { testLogger } from "../../support/logger.ts";
import { type TestClients, withMigratedDatabase } from "../../support/postgres_fixtures.ts";
import { postgresTest } from "../../support/postgres_test.ts";
import {
  type OutboxHarness,
  webhookOutboxContract,
} from "../../support/webhook_outbox_contract.ts";

function postgresHarness(clients: TestClients): OutboxHarness {
  return {
    shared: true,
    open: async (node = "node-a") => {
      const outbox = new PostgresWebhookOutbox({
        sql: clients.open(),
        nodeId: node,
        logger: testLogger(),
      });
      await outbox.open();
      return outbox;
    },
  };
}

webhookOutboxContract((name, fn) =>
  postgresTest(
    `PostgresWebhookOutbox: ${name}`,
    (pg) => withMigratedDatabase(pg, (clients) => fn(postgresHarness(clients))),
  )
);
