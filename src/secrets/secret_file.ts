import { ConfigError } from "../config.ts";
import type { Logger } from "../logger.ts";

/**
 * Reads a secret from a file named by an environment variable, trimmed of surrounding
 * whitespace (a trailing newline included). A missing or unreadable file is a `ConfigError`
 * naming the variable, never echoing any content; a file others can read is logged as a warning.
 *
 * @example
 * ```ts
 * const key = await readSecretFile("/run/secrets/api-key", "API_KEY_FILE", logger);
 * ```
 */
export async function readSecretFile(
  path: string,
  variable: string,
  logger: Logger,
): Promise<string> {
  let text: string;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) throw new ConfigError([`${variable}: ${path} is not a regular file`]);
    if (info.mode !== null && (info.mode & 0o077) !== 0) {
      logger.warn(
        { variable, path, mode: `0${(info.mode & 0o777).toString(8)}` },
        "a secret file is readable by other users; chmod 600 it",
      );
    }
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if (error instanceof Deno.errors.NotFound) {
      throw new ConfigError([`${variable}: ${path} does not exist`]);
    }
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new ConfigError([
        `${variable}: no permission to read ${path} (run with --allow-read=${path})`,
      ]);
    }
    throw error;
  }
  return text.trim();
}
