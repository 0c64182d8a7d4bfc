import assert from "node:assert/strict";
import postgres from "postgres";
import { startTestPostgres } from "../../support/postgres_server.ts";
import { postgresBinaries, postgresTest } from "../../support/postgres_test.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

for (const binaries of postgresBinaries) {
  Deno.test(`a test server from ${binaries.source} binaries answers with fsync on, survives a restart and is removed`, async () => {
    const pg = await startTestPostgres(binaries);
    assert.ok(await exists(`${pg.directory}/data/PG_VERSION`));
    let sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      const [row] =
        await sql`select current_setting('fsync') as fsync, inet_server_addr()::text as addr`;
      assert.equal(row.fsync, "on");
      assert.equal(row.addr, "127.0.0.1/32");
      await sql`create table kept (n int)`;
      await sql`insert into kept values (1)`;
      await sql.end();
      await pg.restart();
      sql = postgres(pg.url, { max: 1, onnotice: () => {} });
      assert.deepEqual([...await sql`select n from kept`], [{ n: 1 }]);
    } finally {
      await sql.end();
      await pg.stop();
    }
    assert.equal(await exists(pg.directory), false, "the directory is removed");
    const gone = postgres(pg.url, { max: 1, connect_timeout: 2 });
    await assert.rejects(gone`select 1`, "the server is gone after stop()");
    await gone.end();
  });
}

postgresTest("a wrong password is refused by the test server", async (pg) => {
  const sql = postgres(pg.url.replace(pg.password, "wrong-password"), {
    max: 1,
    onnotice: () => {},
  });
  try {
    await assert.rejects(sql`select 1`, /password authentication failed/);
  } finally {
    await sql.end();
  }
});

postgresTest("createDatabase() gives a URL of a fresh database", async (pg) => {
  const url = await pg.createDatabase("fresh_one");
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql`select current_database() as name`;
    assert.equal(row.name, "fresh_one");
  } finally {
    await sql.end();
  }
});

Deno.test("startTestPostgres() removes its directory when the server cannot start", async () => {
  const [binaries] = postgresBinaries;
  if (!binaries) return;
  const before = new Set(
    (await Array.fromAsync(Deno.readDir(Deno.env.get("TMPDIR") ?? "/tmp"))).map((entry) =>
      entry.name
    ),
  );
  await assert.rejects(
    startTestPostgres({ ...binaries, binDir: "/nonexistent/bin" }),
    /could not start a test PostgreSQL/,
  );
  const left = (await Array.fromAsync(Deno.readDir(Deno.env.get("TMPDIR") ?? "/tmp")))
    .map((entry) => entry.name)
    .filter((name) =>
      name.startsWith("wa-gateway-pg-") && !before.has(name) && !name.includes("libs")
    );
  assert.deepEqual(left, []);
  assert.equal(await exists("/nonexistent"), false);
});
