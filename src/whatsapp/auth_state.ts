import {
  type AuthenticationCreds,
  type AuthenticationState,
  BufferJSON,
  initAuthCreds,
  proto,
  type SignalDataSet,
  type SignalDataTypeMap,
} from "@whiskeysockets/baileys";
import { z } from "zod";
import { InsufficientStorageError } from "../domain/errors.ts";
import type { AuthFiles } from "../domain/session_store.ts";
import { backoffDelay, type BackoffOptions } from "../lib/backoff.ts";
import type { Logger } from "../logger.ts";

/** Baileys' auth state for one session, kept durable through `AuthFiles`. */
export interface DurableAuthState {
  /** Hand this to `makeWASocket({ auth })`. */
  readonly state: AuthenticationState;
  /** Whether the credentials belong to a linked device (`creds.me` is set). */
  readonly linked: boolean;
  /** Forgets a link begun with a pairing code and never finished, so the next socket registers. */
  discardUnfinishedLink(): void;
  /** Persists the current credentials; call it on every `creds.update`. */
  saveCreds(): Promise<void>;
  /** Resolves once everything written so far is durable. */
  flush(): Promise<void>;
  /**
   * Flushes, then ignores further writes. Called before credentials are deleted, so that a
   * late key write from a closing socket cannot recreate the session folder.
   */
  close(): Promise<void>;
}

export interface AuthStateOptions {
  logger: Logger;
  /** How many decoded key files to keep in memory (least recently used are dropped). */
  cacheLimit?: number;
  /** How often a write refused for lack of space is tried again. */
  noSpaceRetry?: BackoffOptions;
}

/** A full disk is retried every few seconds at most: the store itself notices space first. */
const NO_SPACE_RETRY: BackoffOptions = { initialDelayMs: 200, maxDelayMs: 2_000 };

/** The stored credentials could not be read; the session cannot log in until someone looks. */
export class CredentialsUnreadableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CredentialsUnreadableError";
  }
}

const CREDS_FILE = "creds.json";

/**
 * The file name Baileys' `useMultiFileAuthState` gives a key, so existing folders load as they
 * are: `<type>-<id>.json`, with `/` written as `__` and `:` as `-`.
 *
 * @example
 * ```ts
 * keyFileName("session", "15550001111:1"); // "session-15550001111-1.json"
 * ```
 */
export function keyFileName(type: string, id: string): string {
  return `${type}-${id}.json`.replace(/\//g, "__").replace(/:/g, "-");
}

const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, "expected bytes");
const KeyPairSchema = z.object({ public: bytes, private: bytes });

/** Just enough of `creds.json` to know it is whole and usable; other fields pass through. */
const CredsSchema = z.looseObject({
  noiseKey: KeyPairSchema,
  pairingEphemeralKeyPair: KeyPairSchema,
  signedIdentityKey: KeyPairSchema,
  signedPreKey: z.looseObject({ keyPair: KeyPairSchema, signature: bytes, keyId: z.number() }),
  registrationId: z.number().int(),
  advSecretKey: z.string().min(1),
  nextPreKeyId: z.number().int(),
  firstUnuploadedPreKeyId: z.number().int(),
});

/**
 * A Signal session as Baileys stores it: libsignal's `SessionRecord.serialize()`, an object of
 * sessions by base key (Baileys' types say bytes; what it writes is this).
 */
const SessionRecordSchema = z.union([
  z.looseObject({ _sessions: z.record(z.string(), z.looseObject({})) }),
  bytes,
]);

const KEY_SCHEMAS: Partial<Record<keyof SignalDataTypeMap, z.ZodType>> = {
  "pre-key": KeyPairSchema,
  session: SessionRecordSchema,
  "sender-key": bytes,
  "identity-key": bytes,
  "lid-mapping": z.string(),
  "device-list": z.array(z.string()),
  "sender-key-memory": z.record(z.string(), z.boolean()),
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function encode(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value, BufferJSON.replacer));
}

function decode(data: Uint8Array): unknown {
  return JSON.parse(decoder.decode(data), BufferJSON.reviver);
}

/**
 * Opens (or creates) a session's auth state. New credentials are written at once, so a session
 * has its folder from the moment it starts. Key reads go through a bounded in-memory cache; key
 * writes are batched: everything Baileys sets while a batch is being written goes out together
 * in the next one, each file atomically, and each `set` resolves once its keys are durable.
 * A write refused for lack of space (`InsufficientStorageError`) waits and is tried again until
 * it lands or the state is closed: Baileys then holds the message whose keys these are (not
 * acknowledged, not failed as undecryptable) until space is back, instead of losing it.
 */
export async function openAuthState(
  files: AuthFiles,
  options: AuthStateOptions,
): Promise<DurableAuthState> {
  const { logger } = options;
  const cache = new KeyCache(options.cacheLimit ?? 5_000);
  const writer = new BatchWriter(files, options.noSpaceRetry ?? NO_SPACE_RETRY, logger);
  let closed = false;

  const creds = await loadCreds(files);
  // What creds.json holds on disk: Baileys saves unchanged credentials on every login (twice),
  // and each write would cost a journal record, an fdatasync and a file replacement.
  let durableCreds = creds.stored ?? encode(creds.value);
  let credsWrites = 0;
  if (!creds.stored) await writer.write(new Map([[CREDS_FILE, durableCreds]]));

  const write = (changes: Map<string, Uint8Array | null>): Promise<void> => {
    if (closed) {
      logger.debug({ files: [...changes.keys()].slice(0, 5) }, "auth write after close ignored");
      return Promise.resolve();
    }
    return writer.write(changes);
  };

  // Reads from disk in flight, by file name. A `set` of the same name marks them stale: what they
  // read is older than the cache, and must neither be returned nor cached over the new value.
  const reading = new Map<string, Set<{ stale: boolean }>>();

  const readKey = async (type: keyof SignalDataTypeMap, id: string): Promise<unknown> => {
    const name = keyFileName(type, id);
    for (;;) {
      const cached = cache.get(name);
      if (cached !== undefined) return cached === null ? undefined : decode(cached);
      const pending = writer.pending(name);
      let data: Uint8Array | null | undefined;
      let value: unknown;
      const read = { stale: false };
      try {
        if (pending !== undefined) {
          data = pending;
        } else {
          const inFlight = reading.get(name) ?? new Set();
          reading.set(name, inFlight.add(read));
          try {
            data = await files.read(name);
          } finally {
            inFlight.delete(read);
            if (inFlight.size === 0) reading.delete(name);
          }
          if (read.stale) continue; // set meanwhile: the cache has the newer value
        }
        if (!data) {
          cache.set(name, null);
          return undefined;
        }
        value = decode(data);
        KEY_SCHEMAS[type]?.parse(value);
      } catch (error) {
        // A damaged key is lost either way; Baileys recovers from a missing one (new session,
        // retry receipt), while handing it garbage would break every message of that contact.
        logger.error({ file: name, err: error }, "unreadable auth key file treated as missing");
        return undefined;
      }
      cache.set(name, data);
      return value;
    }
  };

  const state: AuthenticationState = {
    creds: creds.value,
    keys: {
      get: async (type, ids) => {
        const result: Record<string, unknown> = {};
        await Promise.all(ids.map(async (id) => {
          let value = await readKey(type, id);
          if (value !== undefined && type === "app-state-sync-key") {
            value = proto.Message.AppStateSyncKeyData.fromObject(value as object);
          }
          if (value !== undefined) result[id] = value;
        }));
        // deno-lint-ignore no-explicit-any
        return result as any;
      },
      set: async (data: SignalDataSet) => {
        const changes = new Map<string, Uint8Array | null>();
        for (const type of Object.keys(data) as (keyof SignalDataTypeMap)[]) {
          for (const [id, value] of Object.entries(data[type] ?? {})) {
            const name = keyFileName(type, id);
            const encoded = value ? encode(value) : null;
            changes.set(name, encoded);
            cache.set(name, encoded);
            for (const read of reading.get(name) ?? []) read.stale = true;
          }
        }
        if (changes.size) await write(changes);
      },
    },
  };

  return {
    state,
    get linked() {
      // `account` arrives with pair-success; `me` alone is set by a pairing-code request.
      return Boolean(state.creds.me?.id && state.creds.account);
    },
    discardUnfinishedLink() {
      if (state.creds.account) return;
      delete state.creds.me;
      delete state.creds.pairingCode;
    },
    saveCreds: async () => {
      const bytes = encode(state.creds);
      if (credsWrites === 0 && equalBytes(bytes, durableCreds)) return;
      credsWrites++;
      try {
        await write(new Map([[CREDS_FILE, bytes]]));
        durableCreds = bytes; // batches resolve in order: the last one to resolve is the newest
      } finally {
        credsWrites--;
      }
    },
    flush: () => writer.flush(),
    async close() {
      closed = true;
      writer.stopWaitingForSpace();
      await writer.flush();
      cache.clear();
    },
  };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The stored credentials (and their bytes), or new ones when there are none (`stored` unset). */
async function loadCreds(
  files: AuthFiles,
): Promise<{ value: AuthenticationCreds; stored?: Uint8Array }> {
  const data = await files.read(CREDS_FILE);
  if (!data) return { value: initAuthCreds() };
  let parsed: unknown;
  try {
    parsed = decode(data);
  } catch (error) {
    throw new CredentialsUnreadableError(`creds.json is not valid JSON`, { cause: error });
  }
  const result = CredsSchema.safeParse(parsed);
  if (!result.success) {
    const fields = result.error.issues.map((i) => i.path.join(".") || "(root)").join(", ");
    throw new CredentialsUnreadableError(`creds.json is incomplete or invalid: ${fields}`);
  }
  return { value: parsed as AuthenticationCreds, stored: data };
}

/**
 * Coalesces writes: while one batch is being written, new changes accumulate (later values of
 * the same file replace earlier ones) and go out together in the next batch. A batch refused for
 * lack of space goes back under the newer changes and is tried again after a pause.
 */
class BatchWriter {
  readonly #files: AuthFiles;
  readonly #noSpaceRetry: BackoffOptions;
  readonly #logger: Logger;
  #queued = new Map<string, Uint8Array | null>();
  #waiters: PromiseWithResolvers<void>[] = [];
  #inFlight = new Map<string, Uint8Array | null>();
  #running: Promise<void> | null = null;
  /** Set by `stopWaitingForSpace`: a refused batch then fails instead of waiting. */
  #giveUpOnNoSpace = false;
  #wakePause: (() => void) | null = null;

  constructor(files: AuthFiles, noSpaceRetry: BackoffOptions, logger: Logger) {
    this.#files = files;
    this.#noSpaceRetry = noSpaceRetry;
    this.#logger = logger;
  }

  write(changes: ReadonlyMap<string, Uint8Array | null>): Promise<void> {
    for (const [name, data] of changes) this.#queued.set(name, data);
    const waiter = Promise.withResolvers<void>();
    this.#waiters.push(waiter);
    this.#running ??= this.#drain();
    return waiter.promise;
  }

  /** The newest not-yet-durable content of `name`: bytes, `null` (deleted), or `undefined`. */
  pending(name: string): Uint8Array | null | undefined {
    if (this.#queued.has(name)) return this.#queued.get(name);
    return this.#inFlight.get(name);
  }

  async flush(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** A write refused for lack of space is tried once more, then fails (the state is closing). */
  stopWaitingForSpace(): void {
    this.#giveUpOnNoSpace = true;
    this.#wakePause?.();
  }

  async #drain(): Promise<void> {
    let refused = 0;
    while (this.#queued.size) {
      const batch = this.#queued;
      const waiters = this.#waiters;
      this.#queued = new Map();
      this.#waiters = [];
      this.#inFlight = batch;
      try {
        await this.#files.write(batch);
        for (const w of waiters) w.resolve();
        refused = 0;
      } catch (error) {
        if (error instanceof InsufficientStorageError && !this.#giveUpOnNoSpace) {
          // Older than what was queued meanwhile: newer values of the same file win.
          for (const [name, data] of this.#queued) batch.set(name, data);
          this.#queued = batch;
          this.#waiters = [...waiters, ...this.#waiters];
          refused++;
          if (refused === 1) {
            this.#logger.warn({ files: batch.size }, "auth write waits for disk space");
          }
          await this.#pause(backoffDelay(refused, this.#noSpaceRetry));
          continue;
        }
        for (const w of waiters) w.reject(error);
      } finally {
        this.#inFlight = new Map();
      }
    }
    this.#running = null;
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#wakePause?.(), ms);
      this.#wakePause = () => {
        this.#wakePause = null;
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** A small LRU of encoded key files; `null` remembers that a file does not exist. */
class KeyCache {
  readonly #entries = new Map<string, Uint8Array | null>();
  constructor(readonly limit: number) {}

  get(name: string): Uint8Array | null | undefined {
    const value = this.#entries.get(name);
    if (value !== undefined) {
      this.#entries.delete(name);
      this.#entries.set(name, value);
    }
    return value;
  }

  set(name: string, value: Uint8Array | null): void {
    this.#entries.delete(name);
    this.#entries.set(name, value);
    if (this.#entries.size > this.limit) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
  }

  clear(): void {
    this.#entries.clear();
  }
}
