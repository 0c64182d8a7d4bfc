import { createLogger, type Logger } from "../../src/logger.ts";
import { type SessionRecord, SessionRecordSchema } from "../../src/domain/session.ts";

/**
 * Runs `fn` with a fresh temporary directory and removes it afterwards, whatever happens.
 *
 * @example
 * ```ts
 * await withTempDir(async (root) => { ... });
 * ```
 */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "wa-gateway-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** One parsed log line. */
export type LogLine = { level: number; msg: string } & Record<string, unknown>;

/**
 * A real pino logger whose lines are kept in memory, for asserting on what was logged.
 *
 * @example
 * ```ts
 * const { logger, lines } = captureLogger();
 * ```
 */
export function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = createLogger({
    level: "debug",
    format: "json",
    destination: { write: (line: string) => lines.push(JSON.parse(line)) },
  });
  return { logger, lines };
}

/** A logger that drops everything. */
export const silentLogger: Logger = createLogger({ level: "silent", format: "json" });

/**
 * A valid session record for tests, with defaults for every field not given.
 *
 * @example
 * ```ts
 * const record = sessionRecord("shop-1", { status: "connected" });
 * ```
 */
export function sessionRecord(id: string, fields: Partial<SessionRecord> = {}): SessionRecord {
  return SessionRecordSchema.parse({ createdAt: "2025-01-01T00:00:00.000Z", ...fields, id });
}

/** Every path below `dir` (relative, sorted) with each file's content, to prove a tree untouched. */
export async function snapshotTree(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  const walk = async (relative: string) => {
    for await (const entry of Deno.readDir(`${dir}/${relative}`)) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory) {
        result[`${path}/`] = "";
        await walk(path);
      } else if (entry.isSymlink) {
        result[path] = `-> ${await Deno.readLink(`${dir}/${path}`)}`;
      } else {
        result[path] = await Deno.readTextFile(`${dir}/${path}`);
      }
    }
  };
  await walk("");
  return Object.fromEntries(Object.entries(result).sort(([a], [b]) => a.localeCompare(b)));
}
