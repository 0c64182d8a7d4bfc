import {
  ConfigError,
  ENCRYPTION_KEY_RULE,
  parseEncryptionKey,
  type SecretSource,
} from "../config.ts";
import type { Logger } from "../logger.ts";
import { readSecretFile } from "./secret_file.ts";

/**
 * The key that encrypts auth files at rest, from the environment or the file it names;
 * `undefined` when none is configured. `variable` names the setting in errors.
 *
 * @example
 * ```ts
 * const key = await resolveEncryptionKey(config.encryptionKey, "SESSIONS_ENCRYPTION_KEY", logger);
 * ```
 */
export async function resolveEncryptionKey(
  source: SecretSource<Uint8Array>,
  variable: string,
  logger: Logger,
): Promise<Uint8Array | undefined> {
  if (source.value) return source.value;
  if (!source.file) return undefined;
  const fileVariable = `${variable}_FILE`;
  const key = parseEncryptionKey(await readSecretFile(source.file, fileVariable, logger));
  if (!key) throw new ConfigError([`${fileVariable}: ${source.file} ${ENCRYPTION_KEY_RULE}`]);
  return key;
}
