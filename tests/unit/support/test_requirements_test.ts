import { strict as assert } from "node:assert";
import { REPO_ROOT } from "../../support/child_process.ts";

async function runFixture(env: Record<string, string>) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--frozen", "-A", "tests/support/requirement_fixture.ts"],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  return { success: output.success, text };
}

Deno.test("a test whose requirement is missing is ignored, with the reason and the hint printed", async () => {
  const { success, text } = await runFixture({ TEST_REQUIREMENTS: "" });
  assert.ok(success, text);
  assert.match(text, /a unicorn is missing: none in the stable\. Breed one/);
  assert.match(text, /ignored: "rides the unicorn" \(needs a unicorn\)/);
  assert.match(text, /rides the unicorn \.\.\. ignored/);
  assert.match(text, /rides the horse \.\.\. ok/);
  assert.match(text, /a horse: a bay horse/);
  assert.match(text, /1 passed \| 0 failed \| 1 ignored/);
});

Deno.test("with TEST_REQUIREMENTS=required a missing requirement fails its tests", async () => {
  const { success, text } = await runFixture({ TEST_REQUIREMENTS: "required" });
  assert.equal(success, false, text);
  assert.match(text, /rides the unicorn \.\.\. FAILED/);
  assert.match(text, /a unicorn is missing: none in the stable\. Breed one/);
  assert.match(text, /1 passed \| 1 failed/);
});
