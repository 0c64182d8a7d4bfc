/**
 * Signal benchmark: the CPU of what a gateway does with libsignal outside logins, with libsignal's
 * XEdDSA on `curve25519-js` (today's code) and with the native substitution
 * (`src/whatsapp/native_curve/`), each in a fresh process, alternating, on the same inputs:
 *
 * - setting up 100 new Signal sessions from pre-key bundles (Baileys' `parseAndInjectE2ESessions`
 *   on a key-bundle answer for 100 devices, as before a first send to them);
 * - decrypting 100 incoming group messages (each carries a sender-key signature to check).
 *
 * Usage: deno run -A --frozen bench/signal_sessions_bench.ts [--runs 5]
 */
import {
  addTransactionCapability,
  type AuthenticationCreds,
  type BinaryNode,
  BufferJSON,
  Curve,
  DEFAULT_CONNECTION_CONFIG,
  initAuthCreds,
  parseAndInjectE2ESessions,
  type SignalKeyStore,
  signedKeyPair,
  xmppPreKey,
  xmppSignedPreKey,
} from "@whiskeysockets/baileys";
import { Buffer } from "node:buffer";
import { cpuUsage } from "node:process";
import pino from "pino";
import { installNativeCurve } from "../src/whatsapp/native_curve/curve_substitution.ts";
import { VerificationCounters } from "../src/whatsapp/native_curve/verification_counters.ts";
import { fmt, machineLine, median, runsFromArgs, withBenchDir } from "./_report.ts";

const DEVICES = 100;
const GROUP_MESSAGES = 100;
const GROUP = "120363000000000001@g.us";
const AUTHOR = "15550000001@s.whatsapp.net";
const logger = pino({ level: "silent" });

interface Fixture {
  bundles: BinaryNode;
  senderKeyDistribution: Uint8Array;
  groupMessages: Uint8Array[];
}

/** An in-memory key store with Baileys' transactions, as a socket has. */
function signalRepository(creds: AuthenticationCreds) {
  const data = new Map<string, unknown>();
  const store: SignalKeyStore = {
    get: (type, ids) =>
      // deno-lint-ignore no-explicit-any
      Promise.resolve(Object.fromEntries(ids.map((id) => [id, data.get(`${type}/${id}`)])) as any),
    set: (changes) => {
      for (const [type, values] of Object.entries(changes)) {
        for (const [id, value] of Object.entries(values ?? {})) {
          if (value) data.set(`${type}/${id}`, value);
          else data.delete(`${type}/${id}`);
        }
      }
      return Promise.resolve();
    },
  };
  const keys = addTransactionCapability(store, logger, {
    maxCommitRetries: 1,
    delayBetweenTriesMs: 0,
  });
  return DEFAULT_CONNECTION_CONFIG.makeSignalRepository(
    { creds, keys },
    logger,
    () => Promise.resolve([]),
  );
}

/** Key bundles of 100 devices and 100 group messages from one sender, made once per run. */
async function makeFixture(): Promise<Fixture> {
  const users: BinaryNode[] = [];
  for (let i = 0; i < DEVICES; i++) {
    const identity = Curve.generateKeyPair();
    const registration = Buffer.alloc(4);
    registration.writeUInt32BE(1000 + i);
    users.push({
      tag: "user",
      attrs: { jid: `1555${String(i).padStart(7, "0")}@s.whatsapp.net` },
      content: [
        { tag: "registration", attrs: {}, content: registration },
        { tag: "type", attrs: {}, content: Buffer.from([5]) },
        { tag: "identity", attrs: {}, content: identity.public },
        xmppSignedPreKey(signedKeyPair(identity, 1)),
        xmppPreKey(Curve.generateKeyPair(), i + 1),
      ],
    });
  }
  const sender = signalRepository(initAuthCreds());
  const groupMessages: Uint8Array[] = [];
  let senderKeyDistribution: Uint8Array = new Uint8Array();
  for (let i = 0; i < GROUP_MESSAGES; i++) {
    const sent = await sender.encryptGroupMessage({
      group: GROUP,
      meId: AUTHOR,
      data: Buffer.from(`group message ${i}`),
    });
    groupMessages.push(sent.ciphertext);
    if (i === 0) senderKeyDistribution = sent.senderKeyDistributionMessage;
  }
  return {
    bundles: {
      tag: "iq",
      attrs: { type: "result" },
      content: [{ tag: "list", attrs: {}, content: users }],
    },
    senderKeyDistribution,
    groupMessages,
  };
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const used = cpuUsage(since);
  return (used.user + used.system) / 1000;
};

/** One measurement in this process: what the parent's child runs. */
async function measure(fixture: Fixture, native: boolean) {
  const counters = new VerificationCounters();
  if (native && !installNativeCurve(counters).active) throw new Error("native path unavailable");
  const repository = signalRepository(initAuthCreds());
  let since = cpuUsage();
  await parseAndInjectE2ESessions(fixture.bundles, repository);
  const bundlesMs = cpuMs(since);
  const bundleChecks = counters.snapshot().node_crypto;
  await repository.processSenderKeyDistributionMessage({
    item: { groupId: GROUP, axolotlSenderKeyDistributionMessage: fixture.senderKeyDistribution },
    authorJid: AUTHOR,
  });
  since = cpuUsage();
  for (const msg of fixture.groupMessages) {
    await repository.decryptGroupMessage({ group: GROUP, authorJid: AUTHOR, msg });
  }
  const groupMs = cpuMs(since);
  return {
    bundlesMs,
    groupMs,
    bundleChecks,
    groupChecks: counters.snapshot().node_crypto - bundleChecks,
  };
}

type Result = Awaited<ReturnType<typeof measure>>;

async function child(fixturePath: string, native: boolean): Promise<Result> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--frozen",
      new URL(import.meta.url).pathname,
      "--child",
      fixturePath,
      native ? "native" : "original",
    ],
  }).output();
  if (code !== 0) throw new Error(new TextDecoder().decode(stderr));
  return JSON.parse(new TextDecoder().decode(stdout));
}

/** Runs the benchmark and returns the report as markdown. */
export async function runSignalSessionsBench(runs: number): Promise<string> {
  return await withBenchDir(async (dir) => {
    const fixturePath = `${dir}/fixture.json`;
    await Deno.writeTextFile(fixturePath, JSON.stringify(await makeFixture(), BufferJSON.replacer));
    const results: Record<"original" | "native", Result[]> = { original: [], native: [] };
    for (let run = 0; run < runs; run++) {
      for (const native of run % 2 ? [true, false] : [false, true]) {
        results[native ? "native" : "original"].push(await child(fixturePath, native));
      }
    }
    const row = (label: string, list: Result[]) => ({
      label,
      bundles: median(list.map((r) => r.bundlesMs)),
      group: median(list.map((r) => r.groupMs)),
      checks: `${list[0].bundleChecks} / ${list[0].groupChecks}`,
    });
    const original = row("curve25519-js (today)", results.original);
    const native = row("native substitution", results.native);
    return [
      await machineLine(runs),
      "",
      `| XEdDSA verify | ${DEVICES} sessions from pre-key bundles, CPU (ms) | ${GROUP_MESSAGES} group messages decrypted, CPU (ms) | signature checks by node:crypto (bundles / group) |`,
      "|---|---:|---:|---:|",
      ...[original, native].map((r) =>
        `| ${r.label} | ${fmt(r.bundles, 1)} | ${fmt(r.group, 1)} | ${r.checks} |`
      ),
      `| native ÷ today | ${fmt(native.bundles / original.bundles, 2)}× | ${
        fmt(native.group / original.group, 2)
      }× | |`,
    ].join("\n");
  });
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--child");
  if (at >= 0) {
    const fixture: Fixture = JSON.parse(
      await Deno.readTextFile(Deno.args[at + 1]),
      BufferJSON.reviver,
    );
    console.log(JSON.stringify(await measure(fixture, Deno.args[at + 2] === "native")));
  } else {
    console.log(await runSignalSessionsBench(runsFromArgs(5)));
  }
}
