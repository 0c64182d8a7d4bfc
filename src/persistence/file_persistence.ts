import { LocalLeaseTable } from "../ownership/local_lease_lock.ts";
import { dataDirApiKey } from "../secrets/api_key.ts";
import { FileSessionStore } from "./file_session_store.ts";
import { FileWebhookOutbox } from "./file_webhook_outbox.ts";
import { FileMessageStore } from "./message_store/file_message_store.ts";
import { messageRetention, type Persistence, type PersistenceOptions } from "./persistence.ts";

/**
 * The embedded default: everything in the data directory, one process behind its lock, leases
 * and the node registry in memory (this node is the only one).
 *
 * @example
 * ```ts
 * const persistence = filePersistence({ config, logger, codec, sealer });
 * ```
 */
export function filePersistence(options: PersistenceOptions): Persistence {
  const { config, logger, codec, sealer } = options;
  const store = new FileSessionStore({
    dataDir: config.dataDir,
    logger: logger.child({ component: "store" }),
    codec,
    sealer,
  });
  const table = new LocalLeaseTable({ sessionExists: (id) => store.has(id) });
  return {
    kind: "file",
    location: config.dataDir,
    localDir: config.dataDir,
    store,
    messages: new FileMessageStore({
      dataDir: config.dataDir,
      logger: logger.child({ component: "message-store" }),
      retention: messageRetention(config),
      sealer,
    }),
    outbox: new FileWebhookOutbox({
      dataDir: config.dataDir,
      logger: logger.child({ component: "webhook-outbox" }),
      sealer,
    }),
    leases: table.lock(config.cluster.nodeId),
    nodes: table.registry,
    generatedApiKey: () => dataDirApiKey(config.dataDir, logger),
    close: () => Promise.resolve(),
  };
}
