import { createLogger, type Logger } from "../../src/logger.ts";
import { type SessionRecord, SessionRecordSchema } from "../../src/domain/session.ts";

export { snapshotTree, withTempDir } from "./temp_dir.ts";

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

/** Whether anything (a file, a folder, a symlink) is at `path`. */
export async function exists(path: string): Promise<boolean> {
  return (await Deno.lstat(path).catch(() => null)) !== null;
}
