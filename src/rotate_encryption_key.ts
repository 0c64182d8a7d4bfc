/**
 * Re-encrypts every auth file of the data directory under a new key, while the gateway is
 * stopped. Run with `deno task rotate-key`:
 *
 * ```sh
 * OLD_SESSIONS_ENCRYPTION_KEY_FILE=old.key SESSIONS_ENCRYPTION_KEY_FILE=new.key deno task rotate-key
 * ```
 *
 * Without an old key it encrypts a plaintext directory; without a new one it decrypts. Exit codes:
 * 0 done, 1 the data directory is in use, 2 a configuration or key problem (nothing changed).
 */
import { ConfigError, loadKeyRotationConfig } from "./config.ts";
import { DataDirectoryLockedError, EncryptionKeyError } from "./domain/errors.ts";
import { createLogger } from "./logger.ts";
import { plainCodec } from "./persistence/auth_file_codec.ts";
import { createAesGcmCodec } from "./persistence/encrypted_auth_file.ts";
import { rotateAuthFileKey } from "./persistence/key_rotation.ts";
import { createValueSealer } from "./persistence/sealed_value.ts";
import { resolveEncryptionKey } from "./secrets/encryption_key.ts";

async function main(): Promise<number> {
  let rotation;
  try {
    rotation = loadKeyRotationConfig(Deno.env.toObject());
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  const { config } = rotation;
  const logger = createLogger({ level: config.logLevel, format: config.logFormat });
  try {
    const oldKey = await resolveEncryptionKey(
      rotation.oldKey,
      "OLD_SESSIONS_ENCRYPTION_KEY",
      logger,
    );
    const newKey = await resolveEncryptionKey(
      config.encryptionKey,
      "SESSIONS_ENCRYPTION_KEY",
      logger,
    );
    if (!oldKey && !newKey) {
      logger.fatal(
        "Set SESSIONS_ENCRYPTION_KEY (the new key) and/or OLD_SESSIONS_ENCRYPTION_KEY (the " +
          "current one), or their _FILE variants",
      );
      return 2;
    }
    const report = await rotateAuthFileKey({
      dataDir: config.dataDir,
      from: oldKey ? await createAesGcmCodec(oldKey) : plainCodec,
      to: newKey ? await createAesGcmCodec(newKey) : plainCodec,
      fromSealer: oldKey ? createValueSealer(oldKey) : undefined,
      toSealer: newKey ? createValueSealer(newKey) : undefined,
      logger,
    });
    logger.info(
      { ...report, dataDir: config.dataDir, encrypted: Boolean(newKey) },
      newKey
        ? "auth files, webhook secrets and queued events re-encrypted under the new key"
        : "auth files, webhook secrets and queued events decrypted",
    );
    return 0;
  } catch (error) {
    if (error instanceof DataDirectoryLockedError) {
      logger.fatal(`${error.message}: stop the gateway before rotating the key`);
      return 1;
    }
    if (error instanceof ConfigError || error instanceof EncryptionKeyError) {
      logger.fatal(error.message);
      return 2;
    }
    throw error;
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}
