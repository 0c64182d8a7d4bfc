/**
 * A small metrics registry that renders the Prometheus text exposition format (version 0.0.4):
 * counters, gauges (set directly or computed at scrape time) and histograms with fixed buckets.
 * Enough for one process's `/metrics`; no summaries, no timestamps, no exemplars.
 */

/** Label values by label name. */
export type Labels<L extends string> = Readonly<Record<L, string>>;

/** The `Content-Type` of the text exposition format. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** What every metric has in common: a name, a help text, and its label names. */
export interface MetricOptions<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  /** Series that exist from the start, at zero, so that dashboards show 0 rather than nothing. */
  initialLabels?: readonly Labels<L>[];
}

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  /** The sample lines, without `# HELP` and `# TYPE`. */
  samples(): string[];
}

/** Keeps one value per combination of label values, in the order they were first seen. */
class LabelledValues<L extends string, V> {
  readonly #labelNames: readonly L[];
  readonly #values = new Map<string, { labels: Labels<L>; value: V }>();

  constructor(labelNames: readonly L[]) {
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith("__") || label === "le") {
        throw new RangeError(`Invalid label name ${JSON.stringify(label)}`);
      }
    }
    this.#labelNames = labelNames;
  }

  /** The entry for `labels`, created with `initial()` the first time. */
  entry(labels: Labels<L> | undefined, initial: () => V): { labels: Labels<L>; value: V } {
    const given = (labels ?? {}) as Record<string, string>;
    const names = Object.keys(given);
    if (
      names.length !== this.#labelNames.length ||
      this.#labelNames.some((name) => typeof given[name] !== "string")
    ) {
      throw new RangeError(
        `Expected labels {${this.#labelNames.join(", ")}}, got {${names.join(", ")}}`,
      );
    }
    const key = JSON.stringify(this.#labelNames.map((name) => given[name]));
    let entry = this.#values.get(key);
    if (!entry) {
      entry = { labels: { ...given } as Labels<L>, value: initial() };
      this.#values.set(key, entry);
    }
    return entry;
  }

  /** The value for `labels`, without creating the series. */
  peek(labels: Labels<L> | undefined): V | undefined {
    const given = (labels ?? {}) as Record<string, string>;
    return this.#values.get(JSON.stringify(this.#labelNames.map((name) => given[name])))?.value;
  }

  all(): { labels: Labels<L>; value: V }[] {
    return [...this.#values.values()];
  }
}

/** Options of a {@linkcode Counter}. */
export interface CounterOptions<L extends string> extends MetricOptions<L> {
  /**
   * Reads every series at scrape time (label values → total so far), for totals kept elsewhere,
   * such as counts shared with worker threads. Values added with `inc()` are then ignored.
   */
  collect?: () => Iterable<[Labels<L>, number]>;
}

/** A value that only goes up (requests served, reconnects). */
export class Counter<L extends string = never> implements Metric {
  readonly type = "counter";
  readonly name: string;
  readonly help: string;
  readonly #values: LabelledValues<L, number>;
  readonly #collect?: () => Iterable<[Labels<L>, number]>;

  constructor(options: CounterOptions<L>) {
    this.name = checkedName(options.name);
    this.help = options.help;
    this.#values = new LabelledValues(options.labelNames ?? []);
    this.#collect = options.collect;
    // A counter without labels exists (at 0) from the start, so a rate over it is defined.
    if (!options.labelNames?.length) this.#values.entry(undefined, () => 0);
    for (const labels of options.initialLabels ?? []) this.#values.entry(labels, () => 0);
  }

  /** Adds `amount` (default 1, never negative). */
  inc(...args: [L] extends [never] ? [amount?: number] : [labels: Labels<L>, amount?: number]) {
    const [labels, amount] = splitArgs<L>(args);
    if (!(amount >= 0)) throw new RangeError(`A counter cannot grow by ${amount}`);
    this.#values.entry(labels, () => 0).value += amount;
  }

  /** The current value for `labels` (0 when never incremented). */
  get(...args: [L] extends [never] ? [] : [labels: Labels<L>]): number {
    return this.#values.peek(args[0] as Labels<L> | undefined) ?? 0;
  }

  samples(): string[] {
    if (this.#collect) {
      return [...this.#collect()].map(([labels, value]) => {
        this.#values.entry(labels, () => 0); // validates the label names
        return sample(this.name, labels, value);
      });
    }
    return this.#values.all().map(({ labels, value }) => sample(this.name, labels, value));
  }
}

/** Options of a {@linkcode Gauge}. */
export interface GaugeOptions<L extends string> extends MetricOptions<L> {
  /**
   * Computes every series at scrape time (label values → value), for values that live elsewhere,
   * such as the number of sessions in each status. Values set with `set()` are then ignored.
   */
  collect?: () => Iterable<[Labels<L>, number]>;
}

/** A value that goes up and down. */
export class Gauge<L extends string = never> implements Metric {
  readonly type = "gauge";
  readonly name: string;
  readonly help: string;
  readonly #values: LabelledValues<L, number>;
  readonly #collect?: () => Iterable<[Labels<L>, number]>;

  constructor(options: GaugeOptions<L>) {
    this.name = checkedName(options.name);
    this.help = options.help;
    this.#values = new LabelledValues(options.labelNames ?? []);
    this.#collect = options.collect;
  }

  /** Sets the value for `labels`. */
  set(...args: [L] extends [never] ? [value: number] : [labels: Labels<L>, value: number]) {
    const [labels, value] = args.length === 2
      ? [args[0] as Labels<L>, args[1] as number]
      : [undefined, args[0] as number];
    this.#values.entry(labels, () => 0).value = value;
  }

  samples(): string[] {
    if (!this.#collect) {
      return this.#values.all().map(({ labels, value }) => sample(this.name, labels, value));
    }
    return [...this.#collect()].map(([labels, value]) => {
      this.#values.entry(labels, () => 0); // validates the label names
      return sample(this.name, labels, value);
    });
  }
}

/** Options of a {@linkcode Histogram}. */
export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  /** Upper bounds of the buckets, increasing; `+Inf` is added. */
  buckets: readonly number[];
}

interface HistogramValue {
  counts: number[];
  sum: number;
  count: number;
}

/** Counts observations (durations, sizes) into fixed buckets, with their sum and count. */
export class Histogram<L extends string = never> implements Metric {
  readonly type = "histogram";
  readonly name: string;
  readonly help: string;
  readonly buckets: readonly number[];
  readonly #values: LabelledValues<L, HistogramValue>;

  constructor(options: HistogramOptions<L>) {
    this.name = checkedName(options.name);
    this.help = options.help;
    const buckets = [...options.buckets];
    if (
      buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || b <= buckets[i - 1])
    ) {
      throw new RangeError(`Histogram ${options.name} needs finite, increasing buckets`);
    }
    this.buckets = buckets;
    this.#values = new LabelledValues(options.labelNames ?? []);
    if (!options.labelNames?.length) this.#values.entry(undefined, () => this.#empty());
    for (const labels of options.initialLabels ?? []) {
      this.#values.entry(labels, () => this.#empty());
    }
  }

  /** Records one observation. */
  observe(...args: [L] extends [never] ? [value: number] : [labels: Labels<L>, value: number]) {
    const [labels, value] = args.length === 2
      ? [args[0] as Labels<L>, args[1] as number]
      : [undefined, args[0] as number];
    const entry = this.#values.entry(labels, () => this.#empty()).value;
    // Only the first bucket that fits is counted here; samples() accumulates them.
    const index = this.buckets.findIndex((bound) => value <= bound);
    entry.counts[index === -1 ? this.buckets.length : index]++;
    entry.sum += value;
    entry.count++;
  }

  samples(): string[] {
    const lines: string[] = [];
    for (const { labels, value } of this.#values.all()) {
      let cumulative = 0;
      [...this.buckets, Infinity].forEach((bound, i) => {
        cumulative += value.counts[i];
        lines.push(
          sample(`${this.name}_bucket`, { ...labels, le: formatNumber(bound) }, cumulative),
        );
      });
      lines.push(sample(`${this.name}_sum`, labels, value.sum));
      lines.push(sample(`${this.name}_count`, labels, value.count));
    }
    return lines;
  }

  #empty(): HistogramValue {
    return { counts: new Array(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
  }
}

/**
 * The metrics of one process, rendered together for `/metrics`.
 *
 * @example
 * ```ts
 * const registry = new MetricsRegistry();
 * const requests = registry.register(new Counter({
 *   name: "http_requests_total",
 *   help: "HTTP requests served.",
 *   labelNames: ["status"],
 * }));
 * requests.inc({ status: "200" });
 * registry.render(); // "# HELP http_requests_total HTTP requests served.\n# TYPE …"
 * ```
 */
export class MetricsRegistry {
  readonly #metrics = new Map<string, Metric>();

  /** Adds a metric; its name must be unique in the registry. */
  register<M extends Metric>(metric: M): M {
    if (this.#metrics.has(metric.name)) {
      throw new RangeError(`Metric ${metric.name} is already registered`);
    }
    this.#metrics.set(metric.name, metric);
    return metric;
  }

  /** Every metric in the text exposition format, `# HELP` and `# TYPE` first. */
  render(): string {
    const lines: string[] = [];
    for (const metric of this.#metrics.values()) {
      lines.push(`# HELP ${metric.name} ${escapeHelp(metric.help)}`);
      lines.push(`# TYPE ${metric.name} ${metric.type}`);
      lines.push(...metric.samples());
    }
    return `${lines.join("\n")}\n`;
  }
}

function splitArgs<L extends string>(
  args: unknown[],
): [Labels<L> | undefined, number] {
  if (typeof args[0] === "object" && args[0] !== null) {
    return [args[0] as Labels<L>, (args[1] as number | undefined) ?? 1];
  }
  return [undefined, (args[0] as number | undefined) ?? 1];
}

function checkedName(name: string): string {
  if (!METRIC_NAME.test(name)) throw new RangeError(`Invalid metric name ${JSON.stringify(name)}`);
  return name;
}

function sample(name: string, labels: Record<string, string>, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return `${name}${pairs.length ? `{${pairs.join(",")}}` : ""} ${formatNumber(value)}`;
}

function formatNumber(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  return String(value);
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}
