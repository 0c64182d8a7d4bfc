/**
 * The served OpenAPI document passes Redocly CLI's recommended rules: the real linter (from npm,
 * pure JavaScript, run by Deno without network access) on `/openapi.json`.
 */
import { strict as assert } from "node:assert";
import { GatewayMetrics } from "../../src/observability/gateway_metrics.ts";
import { REPO_ROOT } from "../support/child_process.ts";
import { openCoreApp } from "../support/core_app.ts";
import { withTempDir } from "../support/temp_dir.ts";

interface LintProblem {
  ruleId: string;
  severity: "error" | "warn";
  message: string;
  location: { pointer: string }[];
}

/** Lints `file` with Redocly's recommended rules; may read that file only, and no network. */
async function redoclyLint(
  file: string,
): Promise<{ totals: Record<string, number>; problems: LintProblem[] }> {
  const specifier =
    JSON.parse(await Deno.readTextFile(`${REPO_ROOT}deno.json`)).imports["@redocly/cli"];
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--frozen",
      `--allow-read=${file},${REPO_ROOT}`,
      "--allow-env",
      "--allow-sys",
      specifier,
      "lint",
      file,
      "--format=json",
    ],
    cwd: REPO_ROOT,
    env: { REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  assert.ok(
    output.success,
    `redocly lint failed:\n${stdout}\n${new TextDecoder().decode(output.stderr)}`,
  );
  return JSON.parse(stdout);
}

Deno.test("/openapi.json passes Redocly CLI's recommended rules, with no error and no new warning", () =>
  withTempDir(async (dir) => {
    const core = await openCoreApp(`${dir}/data`, { metrics: new GatewayMetrics() });
    try {
      const spec = await (await core.app.request("/openapi.json")).json();
      await Deno.writeTextFile(`${dir}/openapi.json`, JSON.stringify(spec, null, 2));
    } finally {
      await core.close();
    }
    const { totals, problems } = await redoclyLint(`${dir}/openapi.json`);
    const found = problems.map((p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer}`);
    // The only warnings left: liveness, readiness and metrics have no 4xx answer to declare.
    assert.deepEqual(found.sort(), [
      "warn operation-4xx-response #/paths/~1health/get/responses",
      "warn operation-4xx-response #/paths/~1metrics/get/responses",
      "warn operation-4xx-response #/paths/~1ready/get/responses",
    ]);
    assert.equal(totals.errors, 0);
  }));
