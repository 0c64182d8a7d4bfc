/**
 * The exact `deno` command line each task runs, computed from the configuration: read and write
 * the data directory `SESSIONS_DATA_PATH` names, read the key files the `*_FILE` variables name,
 * and nothing else on disk. Deno tasks are static strings, so the launcher computes these.
 */
import { dirname, resolve } from "node:path";
import { type Config, loadConfig, loadKeyRotationConfig } from "../config.ts";

/** The tasks the launcher runs. */
export const LAUNCH_COMMANDS = [
  "start",
  "dev",
  "rotate-key",
  "backup",
  "restore",
  "migrate-store",
  "compile",
] as const;
export type LaunchCommand = (typeof LAUNCH_COMMANDS)[number];

/** A path that a permission flag cannot name (Deno splits flag values at commas). */
export class UnnamablePathError extends Error {
  constructor(readonly variable: string, readonly path: string) {
    super(
      `${variable}=${path}: a path with a comma cannot be granted to Deno; use another path`,
    );
    this.name = "UnnamablePathError";
  }
}

/** Where the gateway's code is: the launcher grants its worker threads read access to it. */
const SRC_DIR = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

/** The worker module `deno compile` must embed (the graph does not reach it). */
const COMPILED_WORKER = `${SRC_DIR}/whatsapp/worker_pool/connection_worker.ts`;

/**
 * The arguments for `deno` that run `command` with `args` under least privilege for `env`.
 * Throws `ConfigError` for an invalid configuration and `UnnamablePathError` for a path that no
 * flag can name.
 *
 * @example
 * ```ts
 * launchPlan("start", [], { SESSIONS_DATA_PATH: "/var/lib/wa-gateway" });
 * // ["run", "--allow-net", ..., "--allow-read=/var/lib/wa-gateway", ..., ".../src/main.ts"]
 * ```
 */
export function launchPlan(
  command: LaunchCommand,
  args: string[],
  env: Record<string, string | undefined>,
): string[] {
  const operands = args.filter((arg) => arg !== "--");
  switch (command) {
    case "start":
    case "dev": {
      const config = loadConfig(env);
      return [
        "run",
        ...(command === "dev" ? [`--watch=${SRC_DIR}/`] : []),
        ...gatewayFlags(config, { read: [["src", SRC_DIR]] }),
        `${SRC_DIR}/main.ts`,
        ...operands,
      ];
    }
    case "compile": {
      const config = loadConfig(env);
      // Baked into the executable: it reads the same paths, resolved where it runs.
      return [
        "compile",
        "--frozen",
        ...gatewayFlags(config, {}),
        "--include",
        COMPILED_WORKER,
        "--output",
        "dist/wa-gateway",
        `${SRC_DIR}/main.ts`,
      ];
    }
    case "rotate-key": {
      const { config, oldKey } = loadKeyRotationConfig(env);
      return [
        "run",
        "--allow-env",
        "--allow-sys=hostname",
        ...readWrite(config, [["OLD_SESSIONS_ENCRYPTION_KEY_FILE", oldKey.file]]),
        `${SRC_DIR}/rotate_encryption_key.ts`,
      ];
    }
    case "backup": {
      const { dataDir } = loadConfig(env);
      const [archive] = operands;
      // The archive is written beside itself first, then renamed into place.
      const archiveDir: NamedPath = ["backup archive", archive && dirname(archive)];
      return [
        "run",
        "--frozen",
        "--allow-env",
        ...flags("read", [["SESSIONS_DATA_PATH", dataDir], archiveDir]),
        ...flags("write", [archiveDir]),
        `${SRC_DIR}/backup_cli.ts`,
        "backup",
        ...operands,
      ];
    }
    case "migrate-store": {
      // The data directory the copy reads or writes; the database is reached over the network.
      const config = loadConfig({ ...env, STORE: undefined, DATABASE_URL: undefined });
      return [
        "run",
        "--frozen",
        "--allow-net",
        "--allow-env",
        "--allow-sys=hostname",
        ...readWrite(config, []),
        `${SRC_DIR}/migrate_store_cli.ts`,
        ...operands,
      ];
    }
    case "restore": {
      const [archive, target] = operands;
      const targetDir: NamedPath = ["restore directory", target];
      return [
        "run",
        "--frozen",
        "--allow-env",
        ...flags("read", [["backup archive", archive], targetDir]),
        ...flags("write", [targetDir]),
        `${SRC_DIR}/backup_cli.ts`,
        "restore",
        ...operands,
      ];
    }
  }
}

type NamedPath = [variable: string, path: string | undefined];

/**
 * What the gateway itself needs: network, environment, host name, and its paths; V8's `gc`,
 * which media streaming calls to free its chunk buffers promptly (`src/media/chunk_garbage.ts`);
 * and young generations of at most 2 MiB a semi-space (V8's default grows them to 16 MiB in every
 * thread while the code loads and keeps them: 8 MiB more idle RSS, for no measurable speed in a
 * restore of 1,000 sessions; see docs/benchmarks.md, Login CPU).
 */
function gatewayFlags(config: Config, extra: { read?: NamedPath[] }): string[] {
  return [
    "--allow-net",
    "--allow-env",
    "--allow-sys=hostname",
    ...readWrite(config, extra.read ?? []),
    "--v8-flags=--expose-gc,--max-semi-space-size=2",
  ];
}

/** Read and write the data directory; read the key files and `extraReads`. */
function readWrite(config: Config, extraReads: NamedPath[]): string[] {
  const dataDir: NamedPath = ["SESSIONS_DATA_PATH", config.dataDir];
  return [
    ...flags("read", [
      dataDir,
      ["API_KEY_FILE", config.apiKey.file],
      ["SESSIONS_ENCRYPTION_KEY_FILE", config.encryptionKey.file],
      ...extraReads,
    ]),
    ...flags("write", [dataDir]),
  ];
}

/** One `--allow-<name>=<path>` per path (repeated flags add up, and keep spaces intact). */
function flags(name: "read" | "write", paths: NamedPath[]): string[] {
  const named = paths.filter((entry): entry is [string, string] => entry[1] !== undefined);
  const unique = [...new Map(named.map(([variable, path]) => [resolve(path), [variable, path]]))];
  return unique.map(([, [variable, path]]) => {
    if (path.includes(",")) throw new UnnamablePathError(variable, path);
    return `--allow-${name}=${path}`;
  });
}
