import { strict as assert } from "node:assert";
import { ConfigError } from "../../../src/config.ts";
import { launchPlan, UnnamablePathError } from "../../../src/launch/launch_plan.ts";
import { REPO_ROOT } from "../../support/child_process.ts";

const SRC = `${REPO_ROOT}src`;
const KEYS = {
  SESSIONS_DATA_PATH: "/var/lib/wa-gateway",
  API_KEY_FILE: "/run/secrets/api key",
  SESSIONS_ENCRYPTION_KEY_FILE: "/run/secrets/sessions.key",
};

/** Every path that a plan lets its process read or write. */
function grants(plan: string[]) {
  const paths = (name: string) =>
    plan.filter((arg) => arg.startsWith(`--allow-${name}=`)).map((arg) =>
      arg.slice(`--allow-${name}=`.length)
    );
  for (const arg of plan) {
    assert.ok(
      !/^(-A|--allow-all|--allow-read|--allow-write|--allow-run.*|--allow-ffi.*)$/.test(arg),
      arg,
    );
  }
  return { read: paths("read"), write: paths("write") };
}

Deno.test("start reads and writes exactly SESSIONS_DATA_PATH, and reads the key files and src", () => {
  const plan = launchPlan("start", [], KEYS);
  assert.deepEqual(plan, [
    "run",
    "--allow-net",
    "--allow-env",
    "--allow-sys=hostname",
    "--allow-read=/var/lib/wa-gateway",
    "--allow-read=/run/secrets/api key",
    "--allow-read=/run/secrets/sessions.key",
    `--allow-read=${SRC}`,
    "--allow-write=/var/lib/wa-gateway",
    "--v8-flags=--expose-gc,--max-semi-space-size=2",
    `${SRC}/main.ts`,
  ]);
});

Deno.test("start without settings grants ./sessions_data, as before", () => {
  assert.deepEqual(grants(launchPlan("start", [], {})), {
    read: ["sessions_data", SRC],
    write: ["sessions_data"],
  });
});

Deno.test("a key file inside the data directory is granted once, by the directory", () => {
  const env = { SESSIONS_DATA_PATH: "/srv/data", API_KEY_FILE: "/srv/data" };
  assert.deepEqual(grants(launchPlan("start", [], env)).read, ["/srv/data", SRC]);
});

Deno.test("dev watches src/ with the same permissions as start", () => {
  const plan = launchPlan("dev", [], KEYS);
  assert.equal(plan[1], `--watch=${SRC}/`);
  assert.deepEqual(grants(plan), grants(launchPlan("start", [], KEYS)));
});

Deno.test("rotate-key reads the old key file too, and has no network", () => {
  const plan = launchPlan("rotate-key", [], {
    ...KEYS,
    OLD_SESSIONS_ENCRYPTION_KEY_FILE: "/run/secrets/old.key",
  });
  assert.ok(!plan.includes("--allow-net"));
  assert.deepEqual(grants(plan), {
    read: [
      "/var/lib/wa-gateway",
      "/run/secrets/api key",
      "/run/secrets/sessions.key",
      "/run/secrets/old.key",
    ],
    write: ["/var/lib/wa-gateway"],
  });
  assert.equal(plan.at(-1), `${SRC}/rotate_encryption_key.ts`);
});

Deno.test("backup reads the data directory and writes only beside the archive", () => {
  const plan = launchPlan("backup", ["--", "/backups/gw.tar"], KEYS);
  assert.deepEqual(grants(plan), {
    read: ["/var/lib/wa-gateway", "/backups"],
    write: ["/backups"],
  });
  assert.deepEqual(plan.slice(-3), [`${SRC}/backup_cli.ts`, "backup", "/backups/gw.tar"]);
  assert.ok(!plan.includes("--allow-net"));
});

Deno.test("restore reads the archive and writes only the target directory", () => {
  const plan = launchPlan("restore", ["--", "/backups/gw.tar", "/srv/new"], {});
  assert.deepEqual(grants(plan), { read: ["/backups/gw.tar", "/srv/new"], write: ["/srv/new"] });
  assert.deepEqual(plan.slice(-3), ["restore", "/backups/gw.tar", "/srv/new"]);
});

Deno.test("backup and restore without operands grant nothing but the data directory", () => {
  assert.deepEqual(grants(launchPlan("backup", [], {})), { read: ["sessions_data"], write: [] });
  assert.deepEqual(grants(launchPlan("restore", [], {})), { read: [], write: [] });
});

Deno.test("compile bakes in the data directory and key files, not src", () => {
  const plan = launchPlan("compile", [], KEYS);
  assert.equal(plan[0], "compile");
  assert.deepEqual(grants(plan), {
    read: ["/var/lib/wa-gateway", "/run/secrets/api key", "/run/secrets/sessions.key"],
    write: ["/var/lib/wa-gateway"],
  });
  assert.deepEqual(plan.slice(plan.indexOf("--include"), plan.indexOf("--include") + 2), [
    "--include",
    `${SRC}/whatsapp/worker_pool/connection_worker.ts`,
  ]);
});

Deno.test("start, dev and compile expose V8's gc (media streaming frees its chunks) and keep young generations small", () => {
  for (const command of ["start", "dev", "compile"] as const) {
    assert.ok(
      launchPlan(command, [], KEYS).includes("--v8-flags=--expose-gc,--max-semi-space-size=2"),
      command,
    );
  }
});

Deno.test("a path with a comma is refused: no Deno flag can name it", () => {
  assert.throws(
    () => launchPlan("start", [], { SESSIONS_DATA_PATH: "/srv/a,b" }),
    (error) =>
      error instanceof UnnamablePathError && /SESSIONS_DATA_PATH=\/srv\/a,b/.test(error.message),
  );
});

Deno.test("an invalid configuration is refused before anything runs", () => {
  assert.throws(() => launchPlan("start", [], { PORT: "http" }), ConfigError);
});
