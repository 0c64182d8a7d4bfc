/**
 * Auth state benchmark: the gateway's durable auth state (`src/whatsapp/auth_state.ts` over the
 * file store's auth folders: a write-ahead journal synced once per batch, files replaced
 * atomically in the background, key cache, batched writes) against Baileys' own
 * `useMultiFileAuthState` (in-place writes, one file operation per key, no fsync), side by side on
 * the same disk in one run. A write counts as done when its promise resolves: for the durable
 * state that means it survives a crash; for Baileys it means the bytes are in the page cache.
 *
 * Scenarios, each on a fresh folder:
 * 1. Set 1,000 pre-keys in one `keys.set` call, as Baileys' pre-key upload does.
 * 2. Set 1,000 pre-keys in 1,000 concurrent `keys.set` calls, as a burst of messages does.
 * 3. Read the 1,000 pre-keys back: from the same state (warm), and cold: from a state opened
 *    anew (for the durable state, on a new store, so that every key is read from its file).
 * 4. 100 credential saves fired without waiting, as `creds.update` handlers fire them.
 * 5. 100 credential saves, each awaited.
 *
 * Usage: deno run -A --frozen bench/auth_state_bench.ts [--runs 5]
 */
import { type AuthenticationState, Curve, useMultiFileAuthState } from "@whiskeysockets/baileys";
import { createLogger } from "../src/logger.ts";
import { FileSessionStore } from "../src/persistence/file_session_store.ts";
import { openAuthState } from "../src/whatsapp/auth_state.ts";
import type { SessionId } from "../src/domain/session_id.ts";
import { fmt, machineLine, median, runsFromArgs, withBenchDir } from "./_report.ts";
import { singleOwnerFence } from "../src/domain/fence.ts";

const logger = createLogger({ level: "silent", format: "json" });
const KEYS = 1_000;
const CREDS_SAVES = 100;

/** What a scenario needs from either implementation. */
interface AuthUnderTest {
  state: AuthenticationState;
  saveCreds(): Promise<void>;
  /** Opens the same folder anew (for cold reads). */
  reopen(): Promise<AuthUnderTest>;
  close(): Promise<void>;
}

async function openDurable(dir: string): Promise<AuthUnderTest> {
  const store = new FileSessionStore({ dataDir: dir, logger });
  await store.open();
  const auth = await openAuthState(store.auth(singleOwnerFence("bench" as SessionId)), { logger });
  return {
    state: auth.state,
    saveCreds: auth.saveCreds,
    // A new store, as after a restart: nothing of the old one's memory (key cache, journaled
    // writes not yet applied) serves the reads; closing the old one checkpoints its journal.
    reopen: async () => {
      await auth.close();
      await store.close();
      return await openDurable(dir);
    },
    close: async () => {
      await auth.close();
      await store.close();
    },
  };
}

async function openBaileys(dir: string): Promise<AuthUnderTest> {
  const folder = `${dir}/bench`;
  const open = async (): Promise<AuthUnderTest> => {
    const { state, saveCreds } = await useMultiFileAuthState(folder);
    return {
      state,
      saveCreds,
      reopen: open,
      close: () => Promise.resolve(),
    };
  };
  return await open();
}

const preKeys = Array.from({ length: KEYS }, () => Curve.generateKeyPair());
const ids = preKeys.map((_, i) => String(i + 1));

type Scenario = (auth: AuthUnderTest) => Promise<number>;

/** Every value `set` accepts for the pre-keys, in one object. */
const allPreKeys = () => ({ "pre-key": Object.fromEntries(ids.map((id, i) => [id, preKeys[i]])) });

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

const scenarios: [string, Scenario][] = [
  [
    `set ${fmt(KEYS)} pre-keys, one call`,
    (auth) => timed(async () => await auth.state.keys.set(allPreKeys())),
  ],
  [
    `set ${fmt(KEYS)} pre-keys, ${fmt(KEYS)} concurrent calls`,
    (auth) =>
      timed(() =>
        Promise.all(
          ids.map(async (id, i) => await auth.state.keys.set({ "pre-key": { [id]: preKeys[i] } })),
        )
      ),
  ],
  [
    `read ${fmt(KEYS)} pre-keys back, warm`,
    async (auth) => {
      await auth.state.keys.set(allPreKeys());
      return await timed(() => readAll(auth));
    },
  ],
  [
    `read ${fmt(KEYS)} pre-keys back, cold (state reopened)`,
    async (auth) => {
      await auth.state.keys.set(allPreKeys());
      const reopened = await auth.reopen();
      return await timed(() => readAll(reopened));
    },
  ],
  [
    `${CREDS_SAVES} creds saves, fired together`,
    (auth) =>
      timed(() =>
        Promise.all(Array.from({ length: CREDS_SAVES }, (_, i) => {
          auth.state.creds.nextPreKeyId = i;
          return auth.saveCreds();
        }))
      ),
  ],
  [
    `${CREDS_SAVES} creds saves, each awaited`,
    (auth) =>
      timed(async () => {
        for (let i = 0; i < CREDS_SAVES; i++) {
          auth.state.creds.nextPreKeyId = i;
          await auth.saveCreds();
        }
      }),
  ],
];

async function readAll(auth: AuthUnderTest): Promise<void> {
  const found = await auth.state.keys.get("pre-key", ids);
  if (Object.keys(found).length !== KEYS) {
    throw new Error(`read back ${Object.keys(found).length} of ${KEYS} pre-keys`);
  }
}

async function measure(
  open: (dir: string) => Promise<AuthUnderTest>,
  scenario: Scenario,
): Promise<number> {
  return await withBenchDir(async (dir) => {
    const auth = await open(dir);
    try {
      return await scenario(auth);
    } finally {
      await auth.close();
    }
  });
}

/** Runs every scenario on both implementations and returns the report as markdown. */
export async function runAuthStateBench(runs = 5): Promise<string> {
  const out = [
    await machineLine(runs),
    "",
    "| scenario | durable auth state (ms) | useMultiFileAuthState (ms) | durable ÷ Baileys speed |",
    "|---|---:|---:|---:|",
  ];
  for (const [label, scenario] of scenarios) {
    const durable: number[] = [];
    const baileys: number[] = [];
    for (let i = 0; i < runs; i++) {
      durable.push(await measure(openDurable, scenario));
      baileys.push(await measure(openBaileys, scenario));
    }
    const d = median(durable);
    const b = median(baileys);
    out.push(`| ${label} | ${fmt(d, 1)} | ${fmt(b, 1)} | ${fmt(b / d, 1)}× |`);
  }
  return out.join("\n");
}

if (import.meta.main) {
  console.log(await runAuthStateBench(runsFromArgs(5)));
}
