/**
 * A minimal Prometheus registry: counters and gauges with labels, rendered in the text
 * exposition format (version 0.0.4).
 */
type Labels = Record<string, string>;

const key = (labels: Labels) =>
  Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) =>
      `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`
    )
    .join(",");

abstract class Metric {
  protected readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string, readonly type: "counter" | "gauge") {}

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const [labels, value] of this.values) {
      lines.push(`${this.name}${labels ? `{${labels}}` : ""} ${value}`);
    }
    return lines.join("\n");
  }
}

export class Counter extends Metric {
  constructor(name: string, help: string) {
    super(name, help, "counter");
  }

  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
}

export class Gauge extends Metric {
  constructor(name: string, help: string) {
    super(name, help, "gauge");
  }

  /** Replaces every series with `series` (for gauges computed from state at scrape time). */
  setAll(series: [Labels, number][]): void {
    this.values.clear();
    for (const [labels, value] of series) this.values.set(key(labels), value);
  }
}

/** The registry `/metrics` renders. */
export class MetricsRegistry {
  readonly #metrics: Metric[] = [];
  readonly #beforeRender: (() => void)[] = [];

  counter(name: string, help: string): Counter {
    const metric = new Counter(name, help);
    this.#metrics.push(metric);
    return metric;
  }

  gauge(name: string, help: string, collect?: (gauge: Gauge) => void): Gauge {
    const metric = new Gauge(name, help);
    this.#metrics.push(metric);
    if (collect) this.#beforeRender.push(() => collect(metric));
    return metric;
  }

  render(): string {
    for (const collect of this.#beforeRender) collect();
    return this.#metrics.map((m) => m.render()).join("\n") + "\n";
  }
}
