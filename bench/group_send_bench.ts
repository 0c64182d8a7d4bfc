/**
 * Group send benchmark: the first text to a group of 50 members with 2 devices each (usync of
 * 50 users, 100 key bundles, 100 new Signal sessions and pairwise copies of the sender key, one
 * `skmsg`), and the second text (the `skmsg` alone). The gateway runs as a child process against
 * the fake WhatsApp server (in this process); each run makes a new group of new members, so the
 * first send sets up every session afresh. Reported: the REST latency (until WhatsApp's server
 * acknowledged the message) and the gateway process's CPU time (user + system, from
 * `/proc/<pid>/stat`) for each send; every member device is checked to have decrypted it.
 *
 * Usage: deno run -A --frozen bench/group_send_bench.ts [--members 50] [--runs 5]
 */
import { startFakeWhatsApp } from "../tests/support/fake_whatsapp/server.ts";
import type { FakeWhatsApp } from "../tests/support/fake_whatsapp/server.ts";
import { GatewayClient } from "../tests/support/gateway_client.ts";
import { spawnGateway } from "../tests/support/gateway_process.ts";
import { fmt, machineLine, median, runsFromArgs, withBenchDir } from "./_report.ts";

const ACCOUNT = "15550001111";
const DEVICES = 2;

function numberArg(name: string, fallback: number): number {
  const flag = Deno.args.indexOf(`--${name}`);
  return flag >= 0 ? Number(Deno.args[flag + 1]) : fallback;
}

/** CPU time (user + system) the process has used, in ms; the kernel counts in clock ticks. */
async function cpuMs(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return ticks * 10; // USER_HZ is 100 on Linux
}

async function waitForMembers(fake: FakeWhatsApp, id: string, members: string[]) {
  const wanted = members.length * DEVICES;
  const deadline = Date.now() + 120_000;
  while (fake.receivedMessages().filter((m) => m.id === id).length < wanted) {
    if (fake.groups.failures().some((f) => f.id === id)) {
      throw new Error(`a member could not decrypt: ${JSON.stringify(fake.groups.failures())}`);
    }
    if (Date.now() > deadline) throw new Error("not every member device decrypted the text");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Sample {
  latencyMs: number;
  cpuMs: number;
}

async function timedSend(
  client: GatewayClient,
  pid: number,
  fake: FakeWhatsApp,
  group: string,
  members: string[],
  text: string,
): Promise<Sample> {
  const cpuBefore = await cpuMs(pid);
  const started = performance.now();
  const { status, body } = await client.json<{ id: string; status: string }>(
    "POST",
    "/api/sessions/bench/messages",
    { type: "text", to: group, text },
  );
  const latencyMs = performance.now() - started;
  if (status !== 201 || body.status !== "sent") {
    throw new Error(`send failed: ${status} ${JSON.stringify(body)}`);
  }
  const cpu = (await cpuMs(pid)) - cpuBefore;
  await waitForMembers(fake, body.id, members);
  return { latencyMs, cpuMs: cpu };
}

const memberCount = numberArg("members", 50);
const runs = runsFromArgs(5);
const fake = await startFakeWhatsApp();
const first: Sample[] = [];
const second: Sample[] = [];
try {
  await withBenchDir(async (dataDir) => {
    const gateway = await spawnGateway({
      dataDir,
      env: {
        WA_WS_URL: fake.wsUrl,
        WA_TEST_ROOT_PUBKEY: fake.rootPublicKeyBase64,
        LOG_LEVEL: "info",
      },
    });
    const client = new GatewayClient(gateway.url, gateway.apiKey);
    try {
      await client.createSession("bench");
      await fake.pairWithQr(await client.waitForQr("bench", 60_000), {
        phoneNumber: ACCOUNT,
        pushName: "Bench",
      });
      await client.waitForStatus("bench", "connected", 60_000);
      for (let run = 0; run < runs; run++) {
        const members = Array.from(
          { length: memberCount },
          (_, i) => `1666${run}${String(i).padStart(6, "0")}`,
        );
        for (const phone of members) fake.addContact({ phoneNumber: phone, devices: DEVICES });
        const { status, body } = await client.json<{ jid: string }>(
          "POST",
          "/api/sessions/bench/groups",
          { subject: `Bench ${run}`, participants: members },
        );
        if (status !== 201) throw new Error(`group not created: ${status} ${JSON.stringify(body)}`);
        first.push(await timedSend(client, gateway.child.pid, fake, body.jid, members, "first"));
        second.push(await timedSend(client, gateway.child.pid, fake, body.jid, members, "second"));
      }
    } finally {
      await gateway.dispose();
    }
  });
} finally {
  await fake.close();
}

const row = (label: string, samples: Sample[]) =>
  `| ${label} | ${fmt(median(samples.map((s) => s.latencyMs)), 0)} | ${
    fmt(median(samples.map((s) => s.cpuMs)), 0)
  } |`;
console.log(await machineLine(runs));
console.log(
  `Group of ${memberCount} members x ${DEVICES} devices (${
    memberCount * DEVICES
  } member devices).\n`,
);
console.log("| send | latency ms (REST, until the server's ack) | gateway CPU ms |");
console.log("| --- | ---: | ---: |");
console.log(row(`first (${memberCount * DEVICES} new Signal sessions)`, first));
console.log(row("second (sender key known)", second));
console.log(
  `\nratio first/second: latency ${
    fmt(median(first.map((s) => s.latencyMs)) / median(second.map((s) => s.latencyMs)), 1)
  }x, CPU ${
    fmt(median(first.map((s) => s.cpuMs)) / Math.max(1, median(second.map((s) => s.cpuMs))), 1)
  }x`,
);
