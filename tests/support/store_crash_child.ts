/**
 * Child process for the crash test: opens a FileSessionStore on `<dataDir>` and writes as fast as
 * it can until it is killed, printing a line on stdout after each write has resolved (is durable):
 *
 * - `ready` once the store is open;
 * - `meta <id> <seq>` after saving record `<id>` with name `t<trial>-n<seq>`;
 * - `auth <id> <seq> <name>,<name>…` after writing those files of session `<id>`, each holding
 *   `{"trial":…,"seq":<seq>,"pad":"…"}`;
 * - `deleting <id> <seq>` before deleting the auth folder of session `<id>`, and `deleted <id>
 *   <seq>` once that is durable (only {@linkcode DELETED_SESSION}, whose writes and deletions
 *   follow one another).
 *
 * `seq` grows with every call made, so a later call of the same id always has a larger one. The
 * auth journal is checkpointed every 512 KiB (instead of 4 MiB), so that kills land in every
 * phase of it: appending, applying, checkpointing.
 *
 * Usage: deno run store_crash_child.ts <dataDir> <trial>
 */
import { createLogger } from "../../src/logger.ts";
import { type SessionRecord, SessionRecordSchema } from "../../src/domain/session.ts";
import { SessionAlreadyExistsError } from "../../src/domain/errors.ts";
import type { SessionId } from "../../src/domain/session_id.ts";
import { FileSessionStore } from "../../src/persistence/file_session_store.ts";
import { singleOwnerFence } from "../../src/domain/fence.ts";

export const META_SESSIONS = 200;
export const DELETED_SESSION = "auth-del";
export const AUTH_SESSIONS = ["auth-0", "auth-1", "auth-2", DELETED_SESSION];

if (import.meta.main) {
  const [dataDir, trialArg] = Deno.args;
  const trial = Number(trialArg);
  const encoder = new TextEncoder();
  const say = (line: string) => {
    const bytes = encoder.encode(`${line}\n`);
    for (let written = 0; written < bytes.length;) {
      written += Deno.stdout.writeSync(bytes.subarray(written));
    }
  };

  const store = new FileSessionStore({
    dataDir,
    logger: createLogger({ level: "silent", format: "json" }),
    journalCheckpointBytes: 512 * 1024,
  });
  await store.open();
  say("ready");

  let seq = 0;
  const record = (id: string, n: number) =>
    SessionRecordSchema.parse({
      id,
      name: `t${trial}-n${n}`,
      status: "connected",
      createdAt: "2025-01-01T00:00:00.000Z",
    });

  /** Creates the record, or changes its name (the field the parent checks) when it exists. */
  const upsert = async (next: SessionRecord) => {
    try {
      await store.create(next);
    } catch (error) {
      if (!(error instanceof SessionAlreadyExistsError)) throw error;
      await store.updateSpec(next.id, () => ({ name: next.name }));
    }
  };

  const saveLoop = async (worker: number) => {
    for (let i = 0;; i++) {
      const n = ++seq;
      const id = `s${(worker * 7 + i * 13) % META_SESSIONS}`;
      await upsert(record(id, n));
      say(`meta ${id} ${n}`);
    }
  };

  const writeAuth = async (sessionId: string, n: number, names: string[]) => {
    // Sizes vary up to 64 KiB so that writes take long enough to be cut in the middle.
    const body = encoder.encode(
      JSON.stringify({ trial, seq: n, pad: "x".repeat(Math.floor(Math.random() * 65_536)) }),
    );
    await store.auth(singleOwnerFence(sessionId as SessionId)).write(
      new Map(names.map((name) => [name, body])),
    );
    say(`auth ${sessionId} ${n} ${names.join(",")}`);
  };

  const authLoop = async (sessionId: string) => {
    for (let i = 0;; i++) {
      const names = ["creds.json", `pre-key-${i % 10}.json`, `session-${i % 3}.json`];
      await writeAuth(sessionId, ++seq, names);
    }
  };

  const deleteLoop = async (sessionId: string) => {
    for (let i = 0;; i++) {
      const n = ++seq;
      if (i % 5 === 4) {
        say(`deleting ${sessionId} ${n}`);
        await store.auth(singleOwnerFence(sessionId as SessionId)).delete();
        say(`deleted ${sessionId} ${n}`);
      } else {
        await writeAuth(sessionId, n, ["creds.json", `pre-key-${i % 7}.json`]);
      }
    }
  };

  await Promise.all([
    ...Array.from({ length: 16 }, (_, worker) => saveLoop(worker)),
    ...AUTH_SESSIONS.filter((id) => id !== DELETED_SESSION)
      .flatMap((id) => [authLoop(id), authLoop(id)]),
    deleteLoop(DELETED_SESSION),
  ]);
}
