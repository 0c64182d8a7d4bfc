/**
 * The docs say what the code does: every metric and the label values it counts are in
 * docs/operations.md, and every kind of file the store keeps is in README's "Data on disk".
 */
import assert from "node:assert/strict";
import { MESSAGE_STATUSES } from "../../src/domain/message.ts";
import { ClusterMetrics } from "../../src/observability/cluster_metrics.ts";
import { GatewayMetrics } from "../../src/observability/gateway_metrics.ts";
import * as layout from "../../src/persistence/data_dir_layout.ts";
import { REPO_ROOT } from "../support/child_process.ts";

const read = (path: string) => Deno.readTextFile(`${REPO_ROOT}${path}`);

/** The rows of docs/operations.md's metric table: name → meaning. */
async function documentedMetrics(): Promise<Map<string, string>> {
  const rows = new Map<string, string>();
  for (const line of (await read("docs/operations.md")).split("\n")) {
    const row = /^\| `(wa_[a-z_]+)(?:\{[^`]*\})?` +\| [a-z]+ +\| (.*) \|$/.exec(line);
    if (row) rows.set(row[1], row[2]);
  }
  return rows;
}

Deno.test("docs/operations.md lists every metric, and the message statuses the code counts", async () => {
  // As the gateway registers them: its own, and the cluster's on the same registry.
  const metrics = new GatewayMetrics();
  new ClusterMetrics(metrics.registry);
  const registered = metrics.registry.render().split("\n")
    .filter((line) => line.startsWith("# TYPE "))
    .map((line) => line.split(" ")[2]);
  const documented = await documentedMetrics();
  assert.deepEqual([...documented.keys()].sort(), registered.sort());
  const values = [...documented.get("wa_message_status_updates_total")!.matchAll(/`([a-z_]+)`/g)]
    .map((match) => match[1]);
  assert.deepEqual(values, [...MESSAGE_STATUSES]);
});

Deno.test("README's Data on disk names every kind of file the store keeps", async () => {
  const readme = await read("README.md");
  const section = readme.slice(readme.indexOf("## Data on disk"), readme.indexOf("## Permissions"));
  const names = [
    layout.LOCK_FILE_NAME,
    layout.API_KEY_FILE_NAME,
    layout.KEY_CHECK_FILE_NAME,
    layout.KEY_ROTATION_FILE_NAME,
    layout.METADATA_FILE_NAME,
    layout.JOURNAL_FILE_NAME,
    layout.OUTBOX_DIR_NAME,
    layout.PENDING_OUTBOX_FILE_NAME,
    layout.DEAD_LETTERS_FILE_NAME,
    layout.TEMP_FILE_PREFIX,
    layout.TRASH_PREFIX,
    layout.corruptMetadataName("<timestamp>"),
    layout.quarantineFileName("<timestamp>"),
    ".jsonl.corrupt-<timestamp>",
  ];
  for (const name of names) {
    assert.ok(section.includes(name), `README's Data on disk lacks ${name}`);
  }
  assert.ok(!/never encrypted/.test(section), "with a key set, the webhook secrets are sealed");
});
