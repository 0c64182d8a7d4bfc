import type { Sql } from "postgres";
import { apiKeyProblem, ConfigError } from "../../config.ts";
import type { Logger } from "../../logger.ts";
import { generateApiKey, type ResolvedApiKey } from "../../secrets/api_key.ts";

const API_KEY = "api_key";

/**
 * The generated API key kept in the database (when neither `API_KEY` nor `API_KEY_FILE` is set),
 * so that every node serves the same key: the first node to start writes one, the others read
 * it. Logs where the key is, never the key.
 *
 * @example
 * ```ts
 * const { key } = await databaseApiKey(sql, logger);
 * ```
 */
export async function databaseApiKey(sql: Sql, logger: Logger): Promise<ResolvedApiKey> {
  const inserted = await sql`
    INSERT INTO settings (name, value) VALUES (${API_KEY}, ${
    new TextEncoder().encode(generateApiKey())
  })
    ON CONFLICT (name) DO NOTHING RETURNING name`;
  const [row] = await sql<{ value: Uint8Array }[]>`
    SELECT value FROM settings WHERE name = ${API_KEY}`;
  const key = new TextDecoder().decode(row.value).trim();
  const problem = apiKeyProblem(key);
  if (problem) {
    throw new ConfigError([
      `the API key kept in the database (settings '${API_KEY}') ${problem}; delete that row to ` +
      "generate a new one",
    ]);
  }
  const generated = inserted.length > 0;
  if (generated) {
    logger.warn(
      `generated an API key, kept in the database: read it with SELECT convert_from(value, 'UTF8') ` +
        `FROM settings WHERE name = '${API_KEY}', and send it as the X-Api-Key header`,
    );
  } else logger.info("API key read from the database");
  return { key, source: "database", generated };
}
