/**
 * Message store benchmark: what storing a message costs, on the file `MessageStore`.
 *
 * 1. Sequential puts (each awaited, as one session's lone message): latency per durable write.
 * 2. Concurrent puts from 10 sessions, 8 in flight each (as under load): messages per second and
 *    CPU-and-disk cost per message, the log's group commit batching the fsyncs.
 * Both plain and sealed (`SESSIONS_ENCRYPTION_KEY` set), with the bytes on disk per message.
 *
 * Usage: deno run -A --frozen bench/message_store_bench.ts [--messages 2000] [--runs 3]
 */
import { proto } from "@whiskeysockets/baileys";
import type { Fence } from "../src/domain/fence.ts";
import type { MessageStore, StoredMessage } from "../src/domain/message_store.ts";
import type { SessionId } from "../src/domain/session_id.ts";
import { createLogger } from "../src/logger.ts";
import { FileMessageStore } from "../src/persistence/message_store/file_message_store.ts";
import { createValueSealer } from "../src/persistence/sealed_value.ts";
import { fmt, machineLine, median, runsFromArgs, withBenchDir } from "./_report.ts";

const logger = createLogger({ level: "silent", format: "json" });
const retention = { maxAgeMs: 14 * 86_400_000, maxBytesPerSession: 32 * 1024 * 1024 };

function numberArg(name: string, fallback: number): number {
  const flag = Deno.args.indexOf(`--${name}`);
  return flag >= 0 ? Number(Deno.args[flag + 1]) : fallback;
}

/** A received text as Baileys has it: ~80 characters and a message secret. */
export function benchMessage(n: number): StoredMessage {
  const chat = `1555${String(n % 50).padStart(7, "0")}@s.whatsapp.net`;
  const id = `3EB0${n.toString(16).toUpperCase().padStart(18, "0")}`;
  const text = `Order #${n} is ready for pickup at the front desk; reply STOP to unsubscribe.`;
  return {
    id,
    key: { remoteJid: chat, fromMe: false, id, remoteJidAlt: `2000${n % 50}@lid` },
    chat,
    sender: chat,
    fromMe: false,
    pushName: "Customer",
    timestamp: Date.now(),
    status: null,
    read: false,
    type: "text",
    text,
    content: proto.Message.encode({
      extendedTextMessage: { text },
      messageContextInfo: { messageSecret: crypto.getRandomValues(new Uint8Array(32)) },
    }).finish(),
    editedAt: null,
    deletedAt: null,
  };
}

async function logBytes(dataDir: string): Promise<number> {
  let bytes = 0;
  for await (const session of Deno.readDir(`${dataDir}/.message-store`)) {
    if (!session.isDirectory) continue;
    bytes += (await Deno.stat(`${dataDir}/.message-store/${session.name}/messages.jsonl`)).size;
  }
  return bytes;
}

/** One run: µs per message, messages per second, bytes on disk per message. */
async function measure(count: number, sealed: boolean, concurrent: boolean) {
  return await withBenchDir(async (dataDir) => {
    const sealer = sealed ? createValueSealer(new Uint8Array(32).fill(7)) : undefined;
    const store = new FileMessageStore({ dataDir, logger, retention, sealer });
    await store.open();
    const fences: Fence[] = Array.from({ length: 10 }, (_, i) => ({
      sessionId: `bench-${i}` as SessionId,
      epoch: 0,
    }));
    const ms = await timePuts(store, fences, count, concurrent);
    const bytes = await logBytes(dataDir);
    await store.close();
    return {
      usPerMessage: (ms * 1000) / count,
      perSecond: (count * 1000) / ms,
      bytes: bytes / count,
    };
  });
}

/**
 * Puts `count` messages one per call, awaited one after another into the first fence's session,
 * or (`concurrent`) 8 in flight for each fence's session; returns the milliseconds it took.
 */
export async function timePuts(
  store: MessageStore,
  fences: readonly Fence[],
  count: number,
  concurrent: boolean,
): Promise<number> {
  const messages = Array.from({ length: count }, (_, n) => benchMessage(n));
  const started = performance.now();
  if (concurrent) {
    let next = 0;
    const worker = async (fence: Fence) => {
      while (next < count) await store.put(fence, [messages[next++]]);
    };
    await Promise.all(fences.flatMap((fence) => Array.from({ length: 8 }, () => worker(fence))));
  } else {
    for (const m of messages) await store.put(fences[0], [m]);
  }
  return performance.now() - started;
}

/** Runs the benchmark and returns the report as markdown. */
export async function runMessageStoreBench(count: number, runs: number): Promise<string> {
  const rows: string[] = [];
  for (const concurrent of [false, true]) {
    for (const sealed of [false, true]) {
      const results = [];
      for (let run = 0; run < runs; run++) results.push(await measure(count, sealed, concurrent));
      rows.push(
        `| ${concurrent ? "10 sessions × 8 in flight" : "sequential, 1 session"} | ${
          sealed ? "sealed" : "plain"
        } | ${fmt(count)} | ${fmt(median(results.map((r) => r.usPerMessage)), 0)} | ${
          fmt(median(results.map((r) => r.perSecond)), 0)
        } | ${fmt(median(results.map((r) => r.bytes)), 0)} |`,
      );
    }
  }
  return [
    await machineLine(runs),
    "",
    "| puts | at rest | messages | µs per message | messages per second | bytes on disk per message |",
    "|---|---|---:|---:|---:|---:|",
    ...rows,
  ].join("\n");
}

if (import.meta.main) {
  console.log(await runMessageStoreBench(numberArg("messages", 2_000), runsFromArgs(3)));
}
