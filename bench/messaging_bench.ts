/**
 * Messaging benchmark, two parts.
 *
 * 1. Sending: texts sent over REST (`POST /api/sessions/{id}/messages`, each answered once the
 *    server acknowledged it) by 1 linked session and by 10 at once, to a simulated contact of the
 *    fake WhatsApp server; the gateway runs as a child process. Every text is checked as received
 *    (decrypted) by the contact. 8 requests in flight per session.
 * 2. Webhooks: events published on the bus, made durable in the file outbox (temp dir) and POSTed
 *    to a receiver on loopback, for 1 session (one ordered queue) and 10 sessions (10 queues);
 *    timed from the first publish until the receiver has accepted them all.
 *
 * Usage: deno run -A --frozen bench/messaging_bench.ts [--messages 400] [--events 2000] [--runs 3]
 *        [--baseline <another checkout>]   (e.g. a worktree of main: both measured in turns)
 */
import { EventBus } from "../src/domain/events.ts";
import type { SessionId } from "../src/domain/session_id.ts";
import { FileWebhookOutbox } from "../src/persistence/file_webhook_outbox.ts";
import { WebhookService } from "../src/webhooks/webhook_service.ts";
import { type FakeWhatsApp, startFakeWhatsApp } from "../tests/support/fake_whatsapp/server.ts";
import { GatewayClient } from "../tests/support/gateway_client.ts";
import { spawnGateway } from "../tests/support/gateway_process.ts";
import { testLogger } from "../tests/support/logger.ts";
import { startWebhookReceiver } from "../tests/support/webhook_receiver.ts";
import { fmt, machineLine, median, runsFromArgs, withBenchDir } from "./_report.ts";

const CONTACT = "15550009999";
const IN_FLIGHT_PER_SESSION = 8;
const SECRET = "bench-webhook-secret-0123456789";

function stringArg(name: string): string | undefined {
  const flag = Deno.args.indexOf(`--${name}`);
  return flag >= 0 ? Deno.args[flag + 1] : undefined;
}

function numberArg(name: string, fallback: number): number {
  const flag = Deno.args.indexOf(`--${name}`);
  return flag >= 0 ? Number(Deno.args[flag + 1]) : fallback;
}

/** Sends `count` texts from `sessionId`, `IN_FLIGHT_PER_SESSION` at a time; returns their ids. */
async function sendTexts(client: GatewayClient, sessionId: string, count: number, tag: string) {
  const ids: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const n = next++;
      const { status, body } = await client.json<{ id: string; status: string }>(
        "POST",
        `/api/sessions/${sessionId}/messages`,
        { type: "text", to: CONTACT, text: `${tag} ${sessionId} #${n}` },
      );
      if (status !== 201 || body.status !== "sent") {
        throw new Error(`send failed: ${status} ${JSON.stringify(body)}`);
      }
      ids.push(body.id);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT_PER_SESSION }, worker));
  return ids;
}

async function waitForContact(fake: FakeWhatsApp, ids: string[]): Promise<void> {
  const wanted = new Set(ids);
  const deadline = Date.now() + 120_000;
  while (
    fake.receivedMessages({ to: CONTACT }).filter((m) => wanted.has(m.id)).length < ids.length
  ) {
    if (Date.now() > deadline) throw new Error("the contact did not receive every text");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One gateway under test: this checkout, or `root` (another checkout, e.g. `main`). */
interface Variant {
  label: string;
  root?: string;
}

/** Starts a variant's gateway and links 10 sessions to the fake; warms them up. */
async function linkedGateway(fake: FakeWhatsApp, dataDir: string, variant: Variant, index: number) {
  const gateway = await spawnGateway({
    dataDir,
    root: variant.root,
    env: {
      WA_WS_URL: fake.wsUrl,
      WA_TEST_ROOT_PUBKEY: fake.rootPublicKeyBase64,
      LOG_LEVEL: "info", // spawnGateway waits for the "listening" line
      MAX_BODY_BYTES: "1048576",
    },
  });
  const client = new GatewayClient(gateway.url, gateway.apiKey);
  const sessions = Array.from({ length: 10 }, (_, i) => `send-${i}`);
  try {
    await Promise.all(sessions.map(async (id, i) => {
      await client.createSession(id);
      const qr = await client.waitForQr(id, 60_000);
      await fake.pairWithQr(qr, { phoneNumber: `17${70 + index}${String(i).padStart(7, "0")}` });
      await client.waitForStatus(id, "connected", 60_000);
    }));
    // Warm-up: the first text of each session sets up its Signal session with the contact.
    await Promise.all(sessions.map((id) => sendTexts(client, id, 2, "warm-up")));
  } catch (error) {
    await gateway.dispose();
    throw error;
  }
  return { gateway, client, sessions };
}

/**
 * Part 1: texts per second over REST, for 1 and 10 sessions; with `baseline`, the same against
 * that checkout's gateway too, the two taking turns run by run so both see the same noise.
 */
async function sendingRows(messages: number, runs: number, baseline?: string): Promise<string[]> {
  const variants: Variant[] = [{ label: "this checkout" }];
  if (baseline) variants.push({ label: "baseline", root: baseline.replace(/\/?$/, "/") });
  const rows: string[] = [];
  const fake = await startFakeWhatsApp();
  fake.addContact({ phoneNumber: CONTACT, pushName: "Bench" });
  try {
    await withBenchDir(async (dataDir) => {
      const started = [];
      try {
        for (const [index, variant] of variants.entries()) {
          const dir = `${dataDir}/${index}`;
          await Deno.mkdir(dir);
          started.push(await linkedGateway(fake, dir, variant, index));
        }
        for (const count of [1, 10]) {
          const perSession = Math.max(1, Math.round(messages / count));
          const results = variants.map(() => [] as number[]);
          for (let run = 0; run < runs; run++) {
            for (const [index, { client, sessions }] of started.entries()) {
              const begun = performance.now();
              const ids = (await Promise.all(
                sessions.slice(0, count).map((id) =>
                  sendTexts(client, id, perSession, `run${run}`)
                ),
              )).flat();
              const ms = performance.now() - begun;
              await waitForContact(fake, ids);
              results[index].push((ids.length * 1000) / ms);
            }
          }
          for (const [index, variant] of variants.entries()) {
            const label = variants.length > 1 ? ` (${variant.label})` : "";
            rows.push(
              `| sent over REST${label} | ${count} | ${fmt(perSession * count)} | ${
                fmt(median(results[index]), 0)
              } |`,
            );
          }
        }
      } finally {
        await Promise.all(started.map(({ gateway }) => gateway.dispose()));
      }
    });
  } finally {
    await fake.close();
  }
  return rows;
}

/** Part 2: webhook events per second, from publish to accepted by the receiver. */
async function webhookRows(events: number, runs: number): Promise<string[]> {
  const rows: string[] = [];
  const receiver = startWebhookReceiver({ secret: SECRET });
  try {
    for (const sessions of [1, 10]) {
      const results: number[] = [];
      for (let run = 0; run < runs; run++) {
        await withBenchDir(async (dataDir) => {
          const bus = new EventBus();
          const logger = testLogger();
          const service = await WebhookService.open({
            outbox: new FileWebhookOutbox({ dataDir, logger }),
            events: bus,
            logger,
            settings: {
              global: { url: receiver.url, secret: SECRET, events: [] },
              timeoutMs: 10_000,
              maxAttempts: 10,
              retryInitialDelayMs: 100,
              retryMaxDelayMs: 1_000,
              concurrency: 64,
              allowedHosts: [],
            },
            sessionWebhooks: () => [],
          });
          const before = receiver.accepted().length;
          const started = performance.now();
          for (let n = 0; n < events; n++) {
            bus.publish({
              type: "message.received",
              sessionId: `hook-${n % sessions}` as SessionId,
              at: new Date().toISOString(),
              message: {
                id: `M${n}`,
                from: `${CONTACT}@s.whatsapp.net`,
                chat: `${CONTACT}@s.whatsapp.net`,
                fromPhoneNumber: CONTACT,
                pushName: null,
                timestamp: new Date().toISOString(),
                type: "text",
                text: `event ${n}`,
              },
            });
          }
          await receiver.waitFor((all) => all.length - before >= events, 300_000);
          results.push((events * 1000) / (performance.now() - started));
          await service.close();
        });
      }
      rows.push(
        `| webhook events delivered | ${sessions} | ${fmt(events)} | ${fmt(median(results), 0)} |`,
      );
    }
  } finally {
    await receiver.close();
  }
  return rows;
}

/** Runs the benchmark and returns the report as markdown. */
export async function runMessagingBench(
  messages: number,
  events: number,
  runs: number,
  baseline?: string,
): Promise<string> {
  return [
    await machineLine(runs),
    "",
    "| what | sessions | per run | per second |",
    "|---|---:|---:|---:|",
    ...await sendingRows(messages, runs, baseline),
    ...await webhookRows(events, runs),
  ].join("\n");
}

if (import.meta.main) {
  console.log(
    await runMessagingBench(
      numberArg("messages", 400),
      numberArg("events", 2_000),
      runsFromArgs(3),
      stringArg("baseline"),
    ),
  );
}
