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
  const { code, text } = await runProbe({ TEST_REQUIREMENTS: "" });
  assert.equal(code, 0, text);
  assert.match(text, /a PostgreSQL server is missing: no server binaries found/);
  assert.match(text, /Install Debian's postgresql/);
  assert.match(text, /ignored: "probe needs a server"/);
  assert.match(text, /1 ignored/);
});

Deno.test("with TEST_REQUIREMENTS=required (CI), a missing PostgreSQL server fails its tests instead", async () => {
  const { code, text } = await runProbe({ TEST_REQUIREMENTS: "required" });
  assert.notEqual(code, 0, text);
  assert.match(text, /TEST_REQUIREMENTS=required: missing fails here/);
});
