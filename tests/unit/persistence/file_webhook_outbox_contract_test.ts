import { FileWebhookOutbox } from "../../../src/persistence/file_webhook_outbox.ts";
import { testLogger } from "../../support/logger.ts";
import { withTempDir } from "../../support/temp_dir.ts";
import {
  type OutboxHarness,
  webhookOutboxContract,
} from "../../support/webhook_outbox_contract.ts";

function fileHarness(dataDir: string): OutboxHarness {
  return {
    shared: false,
    open: async () => {
      const outbox = new FileWebhookOutbox({ dataDir, logger: testLogger() });
      await outbox.open();
      return outbox;
    },
  };
}

webhookOutboxContract((name, fn) =>
  Deno.test(`FileWebhookOutbox: ${name}`, () => withTempDir((dir) => fn(fileHarness(dir))))
);
