/**
 * Media benchmark: the gateway (a child process, one connection worker) sends files over REST to a
 * simulated contact of the fake WhatsApp server, which downloads and decrypts each one (checked
 * byte for byte by hash). Measured in the gateway process: throughput, and its peak RSS
 * (`VmHWM`, reset through `/proc/<pid>/clear_refs` before each scenario; Linux only).
 *
 * 1. 10 documents of 16 MiB sent at once, as multipart and as JSON base64; the same sent by the
 *    contact and downloaded through the API at once, from WhatsApp and from the cache: MB/s and
 *    peak RSS.
 * 2. One 1 MiB image, one 64 MiB video and one 256 MiB video, in each form (multipart, JSON
 *    base64, URL): peak RSS above the idle process, each on a fresh gateway process.
 *
 * Usage: deno run -A --frozen bench/media_bench.ts [--runs 3]
 */
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import { type FakeWhatsApp, startFakeWhatsApp } from "../tests/support/fake_whatsapp/server.ts";
import { linkSession, startFakeGateway } from "../tests/support/fake_gateway.ts";
import { type GatewayProcess, stopGracefully } from "../tests/support/gateway_process.ts";
import { type MediaFixture, mediaFixture } from "../tests/support/media_fixtures.ts";
import { type FileServer, serveFiles } from "../tests/support/file_server.ts";
import { fmt, machineLine, median, runsFromArgs, withBenchDir } from "./_report.ts";

const ACCOUNT = "15550001111";
const CONTACT = "15550009999";
const MIB = 1024 * 1024;

type Form = "multipart" | "base64" | "url";

/** The gateway's resident set now and at its peak since the last reset, in MiB. */
async function memory(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]);
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

/** Starts a new peak: from now on `VmHWM` is the highest RSS since this call. */
async function resetPeak(pid: number): Promise<void> {
  await Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5");
}

function request(kind: string, fixture: MediaFixture, form: Form, url?: string): RequestInit {
  if (form === "multipart") {
    const body = new FormData();
    body.set("type", kind);
    body.set("to", CONTACT);
    if (kind === "document") body.set("fileName", "bench.pdf");
    body.set("file", new Blob([fixture.bytes], { type: fixture.mimetype }), "bench.bin");
    return { method: "POST", body };
  }
  const head = { type: kind, to: CONTACT };
  if (form === "url") {
    return {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...head, media: { url } }),
    };
  }
  // Pieced together: JSON.stringify cannot take a string of hundreds of megabytes.
  const prefix = JSON.stringify({ ...head, media: { mimetype: fixture.mimetype } }).slice(0, -2);
  return {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: new Blob([
      `${prefix},"base64":"`,
      Buffer.from(fixture.bytes).toString("base64"),
      '"}}',
    ]),
  };
}

/** Sends the requests at once; resolves when the contact has decrypted every file intact. */
async function sendAll(
  gateway: GatewayProcess,
  fake: FakeWhatsApp,
  requests: { init: RequestInit; sha256: string }[],
): Promise<number> {
  const started = performance.now();
  const ids = await Promise.all(requests.map(async ({ init }) => {
    const response = await gateway.fetch("/api/sessions/bench/messages", init);
    const body = await response.json();
    if (response.status !== 201) throw new Error(`send failed: ${JSON.stringify(body)}`);
    return body.id as string;
  }));
  const ms = performance.now() - started;
  for (const [i, id] of ids.entries()) {
    const received = await fake.waitForReceived((m) => m.id === id, 120_000);
    if (received.media?.sha256 !== requests[i].sha256) {
      throw new Error(`the contact got other bytes: ${received.mediaError}`);
    }
  }
  return ms;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** A fresh gateway process on `dataDir` (linking the session the first time), idle. */
async function freshGateway(
  fake: FakeWhatsApp,
  dataDir: string,
  first: boolean,
  env: Record<string, string>,
) {
  const { gateway, client } = await startFakeGateway(fake, dataDir, {
    ...env,
    CONNECTION_WORKERS: "1",
    MEDIA_URL_ALLOWED_HOSTS: "127.0.0.1",
    // Room for the 256 MiB file that shows where the peak levels off.
    MAX_MEDIA_BYTES: String(256 * MIB),
    LOG_LEVEL: "info",
  });
  if (first) await linkSession(client, fake, "bench", ACCOUNT);
  else await client.waitForStatus("bench", "connected", 60_000);
  return gateway;
}

/** Runs `fn` on a fresh, warmed-up gateway: its Signal session and media_conn are set up. */
async function onFreshGateway<T>(
  world: { fake: FakeWhatsApp; dataDir: string; files: FileServer; linked: boolean },
  fn: (gateway: GatewayProcess) => Promise<T>,
  env: Record<string, string> = {},
): Promise<T> {
  const gateway = await freshGateway(world.fake, world.dataDir, !world.linked, env);
  world.linked = true;
  try {
    const warm = mediaFixture("image", 50_000, 99);
    for (const form of ["multipart", "base64", "url"] as const) {
      const url = world.files.add(`/warm-${form}`, warm.bytes, warm.mimetype);
      await sendAll(gateway, world.fake, [{
        init: request("image", warm, form, url),
        sha256: sha256(warm.bytes),
      }]);
    }
    return await fn(gateway);
  } finally {
    await stopGracefully(gateway);
  }
}

/** Sends `requests` at once on a fresh gateway: elapsed ms, idle and peak RSS (MiB). */
function measure(
  world: { fake: FakeWhatsApp; dataDir: string; files: FileServer; linked: boolean },
  requests: () => { init: RequestInit; sha256: string }[],
) {
  return onFreshGateway(world, async (gateway) => {
    const pid = gateway.child.pid;
    const idle = (await memory(pid)).rss;
    await resetPeak(pid);
    const ms = await sendAll(gateway, world.fake, requests());
    return { ms, idle, peak: (await memory(pid)).peak };
  });
}

/**
 * The contact sends `files` to the account; they are downloaded through the API once (so they
 * are stored, and cached if the cache is on), then again all at once, measured, on a fresh
 * gateway: elapsed ms of the second pass, idle RSS before the first and peak RSS over both (MiB).
 * With the cache off both passes come from WhatsApp.
 */
function measureDownloads(
  world: { fake: FakeWhatsApp; dataDir: string; files: FileServer; linked: boolean },
  files: MediaFixture[],
  cached: boolean,
) {
  return onFreshGateway(world, async (gateway) => {
    const ids: string[] = [];
    for (const file of files) {
      const { id } = await world.fake.deliverMedia({
        from: CONTACT,
        to: ACCOUNT,
        kind: "document",
        bytes: file.bytes,
        mimetype: file.mimetype,
      });
      ids.push(id);
    }
    const fetchAll = () =>
      Promise.all(ids.map(async (id, i) => {
        const path = `/api/sessions/bench/messages/${id}/media`;
        for (let tries = 0;; tries++) {
          const response = await gateway.fetch(path);
          if (response.status === 200) {
            const hash = createHash("sha256");
            for await (const chunk of response.body!) hash.update(chunk);
            if (hash.digest("hex") !== sha256(files[i].bytes)) throw new Error("other bytes");
            return;
          }
          const body = await response.text();
          if (response.status !== 404 || tries > 200) throw new Error(`download failed: ${body}`);
          await new Promise((resolve) => setTimeout(resolve, 50)); // not stored yet
        }
      }));
    const pid = gateway.child.pid;
    const idle = (await memory(pid)).rss;
    await resetPeak(pid);
    // Every message stored (and cached, unless the cache is off), then the measured pass. The
    // peak covers both.
    await fetchAll();
    const started = performance.now();
    await fetchAll();
    return { ms: performance.now() - started, idle, peak: (await memory(pid)).peak };
  }, cached ? {} : { MEDIA_CACHE_BYTES: "0" });
}

async function run(runs: number): Promise<string> {
  const lines: string[] = [];
  const fake = await startFakeWhatsApp();
  await using files = serveFiles();
  fake.addContact({ phoneNumber: CONTACT, pushName: "Bench" });
  try {
    await withBenchDir(async (dataDir) => {
      const world = { fake, dataDir, files, linked: false };
      lines.push(
        "",
        "| 10 × 16 MiB documents at once | MB/s | idle RSS (MiB) | peak RSS (MiB) | peak − idle |",
        "|---|---:|---:|---:|---:|",
      );
      const documents = Array.from(
        { length: 10 },
        (_, i) => mediaFixture("document", 16 * MIB, i + 1),
      );
      for (const form of ["multipart", "base64"] as const) {
        const results = [];
        for (let r = 0; r < runs; r++) {
          results.push(
            await measure(
              world,
              () =>
                documents.map((d) => ({
                  init: request("document", d, form),
                  sha256: sha256(d.bytes),
                })),
            ),
          );
        }
        const rate = median(results.map((x) => (10 * 16 * MIB) / 1e6 / (x.ms / 1000)));
        lines.push(row(`sent, ${form}`, results, fmt(rate, 1)));
      }
      for (const source of ["from WhatsApp", "from the cache"] as const) {
        const results = [];
        for (let r = 0; r < runs; r++) {
          results.push(await measureDownloads(world, documents, source === "from the cache"));
        }
        const rate = median(results.map((x) => (10 * 16 * MIB) / 1e6 / (x.ms / 1000)));
        lines.push(row(`downloaded over REST, ${source}`, results, fmt(rate, 1)));
      }

      lines.push(
        "",
        "| one file sent | form | idle RSS (MiB) | peak RSS (MiB) | peak − idle |",
        "|---|---|---:|---:|---:|",
      );
      const sizes = [
        ["1 MiB image", "image", mediaFixture("image", MIB, 7)],
        ["64 MiB video", "video", mediaFixture("video", 64 * MIB, 8)],
        ["256 MiB video", "video", mediaFixture("video", 256 * MIB, 9)],
      ] as const;
      for (const form of ["multipart", "base64", "url"] as const) {
        for (const [label, kind, fixture] of sizes) {
          const url = files.add(`/${kind}-${form}`, fixture.bytes, fixture.mimetype);
          const results = [];
          for (let r = 0; r < runs; r++) {
            results.push(
              await measure(world, () => [{
                init: request(kind, fixture, form, url),
                sha256: sha256(fixture.bytes),
              }]),
            );
          }
          lines.push(row(label, results, form));
        }
      }
    });
  } finally {
    await fake.close();
  }
  return [await machineLine(runs), ...lines].join("\n");
}

function row(label: string, results: { idle: number; peak: number }[], extra: string): string {
  const idle = median(results.map((x) => x.idle));
  const peak = median(results.map((x) => x.peak));
  const growth = median(results.map((x) => x.peak - x.idle));
  return `| ${label} | ${extra} | ${fmt(idle)} | ${fmt(peak)} | ${fmt(growth)} |`;
}

if (import.meta.main) {
  console.log(await run(runsFromArgs(3)));
}
