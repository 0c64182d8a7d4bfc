import pino from "pino";

/** The one structured logger type used across the gateway; Baileys accepts it as is. */
export type Logger = pino.Logger;

export interface LoggerOptions {
  level: pino.LevelWithSilent;
  format: "json" | "pretty";
  /** Where lines go; standard error by default so stdout stays free for tools. */
  destination?: pino.DestinationStream;
}

/**
 * Creates the root logger. JSON lines by default; `pretty` prints short human-readable lines
 * without pulling in a transport (worker threads are not worth it for a dev convenience).
 *
 * @example
 * ```ts
 * const logger = createLogger({ level: "info", format: "json" });
 * logger.child({ sessionId: "shop-1" }).info("connected");
 * ```
 */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ fd: 2, sync: true });
  return pino(
    {
      level: options.level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        // Defence in depth: secrets must not be logged in the first place.
        paths: [
          "apiKey",
          "secret",
          "encryptionKey",
          "*.secret",
          "*.apiKey",
          "*.encryptionKey",
          "headers.authorization",
          "headers['x-api-key']",
        ],
        censor: "[redacted]",
      },
    },
    options.format === "pretty" ? prettyStream(destination) : destination,
  );
}

const LEVEL_NAMES: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};

function prettyStream(out: pino.DestinationStream): pino.DestinationStream {
  return {
    write(line: string) {
      try {
        const { level, time, msg, ...rest } = JSON.parse(line);
        const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : "";
        out.write(`${time} ${LEVEL_NAMES[level] ?? level} ${msg ?? ""}${extra}\n`);
      } catch {
        out.write(line);
      }
    },
  };
}
