import { createLogger, type Logger } from "../../src/logger.ts";

/** A logger for tests: silent unless TEST_LOG_LEVEL is set (e.g. TEST_LOG_LEVEL=debug). */
export function testLogger(): Logger {
  const level = (Deno.env.get("TEST_LOG_LEVEL") ?? "silent") as "silent";
  return createLogger({ level, format: "pretty" });
}
