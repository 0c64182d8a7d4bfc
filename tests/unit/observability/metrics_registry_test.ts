import assert from "node:assert/strict";
import {
  Counter,
  Gauge,
  Histogram,
  MetricsRegistry,
} from "../../../src/observability/metrics_registry.ts";
import { parseExposition, sampleValue } from "../../support/prometheus_text.ts";

Deno.test("a counter renders # HELP, # TYPE and its value, starting at 0", () => {
  const registry = new MetricsRegistry();
  const counter = registry.register(new Counter({ name: "jobs_total", help: "Jobs done." }));
  assert.equal(
    registry.render(),
    "# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total 0\n",
  );
  counter.inc();
  counter.inc(2);
  const parsed = parseExposition(registry.render());
  assert.equal(parsed.get("jobs_total")?.type, "counter");
  assert.equal(sampleValue(parsed, "jobs_total"), 3);
  assert.equal(counter.get(), 3);
});

Deno.test("a counter refuses to go down", () => {
  const counter = new Counter({ name: "c_total", help: "c" });
  assert.throws(() => counter.inc(-1), RangeError);
  assert.throws(() => counter.inc(NaN), RangeError);
});

Deno.test("labelled series are kept apart and label values are escaped", () => {
  const registry = new MetricsRegistry();
  const counter = registry.register(
    new Counter<"route" | "status">({
      name: "req_total",
      help: "Requests.",
      labelNames: ["route", "status"],
      initialLabels: [{ route: "/a", status: "200" }],
    }),
  );
  counter.inc({ route: "/a", status: "200" });
  counter.inc({ status: "200", route: "/a" });
  counter.inc({ route: 'we"ird\\\n', status: "500" });
  const parsed = parseExposition(registry.render());
  assert.equal(sampleValue(parsed, "req_total", { route: "/a", status: "200" }), 2);
  assert.equal(sampleValue(parsed, "req_total", { route: 'we"ird\\\n', status: "500" }), 1);
  assert.equal(counter.get({ route: "/b", status: "200" }), 0);
  assert.equal(sampleValue(parsed, "req_total", { route: "/b" }), undefined);
});

Deno.test("labels must match the declared label names", () => {
  const counter = new Counter<"a">({ name: "x_total", help: "x", labelNames: ["a"] });
  // @ts-expect-error: a label that is not declared
  assert.throws(() => counter.inc({ a: "1", b: "2" }), RangeError);
  assert.throws(() => new Counter({ name: "x", help: "x", labelNames: ["le"] }), RangeError);
  assert.throws(() => new Counter({ name: "bad name", help: "x" }), RangeError);
});

Deno.test("a histogram renders cumulative buckets, +Inf, sum and count", () => {
  const registry = new MetricsRegistry();
  const histogram = registry.register(
    new Histogram<"kind">({
      name: "write_seconds",
      help: "Write time.",
      labelNames: ["kind"],
      buckets: [0.01, 0.1, 1],
      initialLabels: [{ kind: "auth" }],
    }),
  );
  for (const value of [0.005, 0.01, 0.05, 0.5, 3]) histogram.observe({ kind: "metadata" }, value);
  const parsed = parseExposition(registry.render());
  const family = parsed.get("write_seconds")!;
  assert.equal(family.type, "histogram");
  const bucket = (kind: string, le: string) =>
    sampleValue(parsed, "write_seconds_bucket", { kind, le });
  assert.equal(bucket("metadata", "0.01"), 2);
  assert.equal(bucket("metadata", "0.1"), 3);
  assert.equal(bucket("metadata", "1"), 4);
  assert.equal(bucket("metadata", "+Inf"), 5);
  assert.equal(sampleValue(parsed, "write_seconds_count", { kind: "metadata" }), 5);
  assert.ok(
    Math.abs(sampleValue(parsed, "write_seconds_sum", { kind: "metadata" })! - 3.565) < 1e-9,
  );
  assert.equal(bucket("auth", "+Inf"), 0);
});

Deno.test("a histogram needs increasing finite buckets", () => {
  assert.throws(() => new Histogram({ name: "h", help: "h", buckets: [] }), RangeError);
  assert.throws(() => new Histogram({ name: "h", help: "h", buckets: [1, 1] }), RangeError);
  assert.throws(() => new Histogram({ name: "h", help: "h", buckets: [1, Infinity] }), RangeError);
});

Deno.test("a gauge is set directly, or computed at every scrape", () => {
  const registry = new MetricsRegistry();
  const temperature = registry.register(new Gauge({ name: "temp", help: "Temperature." }));
  temperature.set(21.5);
  let open = 2;
  registry.register(
    new Gauge<"state">({
      name: "doors",
      help: "Doors by state.",
      labelNames: ["state"],
      collect: () => [[{ state: "open" }, open], [{ state: "closed" }, 5 - open]],
    }),
  );
  let parsed = parseExposition(registry.render());
  assert.equal(sampleValue(parsed, "temp"), 21.5);
  assert.equal(sampleValue(parsed, "doors", { state: "open" }), 2);
  open = 4;
  parsed = parseExposition(registry.render());
  assert.equal(sampleValue(parsed, "doors", { state: "open" }), 4);
  assert.equal(sampleValue(parsed, "doors", { state: "closed" }), 1);
});

Deno.test("a registry refuses two metrics of one name", () => {
  const registry = new MetricsRegistry();
  registry.register(new Counter({ name: "a_total", help: "a" }));
  assert.throws(() => registry.register(new Counter({ name: "a_total", help: "a" })), RangeError);
});
