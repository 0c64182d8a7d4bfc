import assert from "node:assert/strict";

const PROBE = new URL("../../support/postgres_probe_child.ts", import.meta.url).pathname;

async function runProbe(env: Record<string, string>) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--frozen", PROBE],
    env: { POSTGRES_BIN_DIR: "/nonexistent/postgres/bin", NO_COLOR: "1", ...env },
    clearEnv: false,
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  return { code: output.code, text };
}

Deno.test("without a PostgreSQL server, its tests are ignored with the reason and an install hint", async () => {
  const { code, text } = await runProbe({ CI: "" });
  assert.equal(code, 0, text);
  assert.match(text, /probe needs a server \(ignored: no PostgreSQL; install Debian's postgresql/);
  assert.match(text, /1 ignored/);
  assert.match(text, /PostgreSQL tests are ignored: no server binaries found/);
});

Deno.test("under CI, a missing PostgreSQL server fails its tests instead", async () => {
  const { code, text } = await runProbe({ CI: "true" });
  assert.notEqual(code, 0, text);
  assert.match(text, /CI must run the PostgreSQL tests/);
});
