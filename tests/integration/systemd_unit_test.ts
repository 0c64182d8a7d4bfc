/**
 * The systemd unit that docs/operations.md recommends, against the gateway's real exit codes:
 * restarted after a failure it may recover from (1), never after a clean drain (0) or a
 * configuration problem (2), and given more time to drain than the gateway takes.
 */
import { strict as assert } from "node:assert";
import { loadConfig } from "../../src/config.ts";
import { REPO_ROOT } from "../support/child_process.ts";
import { spawnGateway } from "../support/gateway_process.ts";
import { withTempDir } from "../support/temp_dir.ts";

const processTest = { sanitizeOps: false, sanitizeResources: false };

/** The `[Service]` settings of the unit file shown in docs/operations.md. */
async function documentedUnit(): Promise<Map<string, string>> {
  const doc = await Deno.readTextFile(`${REPO_ROOT}docs/operations.md`);
  const block = /`\/etc\/systemd\/system\/wa-gateway\.service`:\s*```ini\n([\s\S]*?)```/.exec(doc);
  assert.ok(block, "the unit file is in docs/operations.md");
  const service = block[1].split(/^\[Service\]$/m)[1].split(/^\[/m)[0];
  const settings = new Map<string, string>();
  for (const line of service.split("\n")) {
    const setting = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (setting) settings.set(setting[1], setting[2]);
  }
  return settings;
}

/** Whether systemd restarts a service with these settings after it exited with `code`. */
function restarts(unit: Map<string, string>, code: number): boolean {
  const prevented = (unit.get("RestartPreventExitStatus") ?? "").split(/\s+/).map(Number);
  // Restart=on-failure: on an exit code other than 0, unless RestartPreventExitStatus lists it.
  assert.equal(unit.get("Restart"), "on-failure");
  return code !== 0 && !prevented.includes(code);
}

Deno.test(
  "the documented systemd unit restarts the gateway after exit 1 only, and lets it drain",
  processTest,
  async () => {
    const unit = await documentedUnit();
    assert.equal(unit.get("KillSignal"), "SIGTERM");
    const stopSeconds = Number(unit.get("TimeoutStopSec"));
    assert.ok(stopSeconds * 1000 > loadConfig({}).shutdownTimeoutMs, "longer than the drain");

    await withTempDir(async (dir) => {
      const invalid = await spawnGateway({ dataDir: dir, env: { PORT: "nope" }, noWait: true });
      const configError = (await invalid.exited).code;
      assert.equal(configError, 2);
      assert.equal(restarts(unit, configError), false, "a configuration error is not retried");

      const first = await spawnGateway({ dataDir: dir });
      try {
        const second = await spawnGateway({ dataDir: dir, noWait: true });
        const locked = (await second.exited).code;
        assert.equal(locked, 1);
        assert.equal(restarts(unit, locked), true, "a held data directory may free up");

        first.kill("SIGTERM");
        const drained = (await first.exited).code;
        assert.equal(drained, 0);
        assert.equal(restarts(unit, drained), false, "a clean stop stays stopped");
      } finally {
        await first.dispose();
      }
    });
  },
);
