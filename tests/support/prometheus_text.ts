/**
 * A strict parser of the Prometheus text exposition format, for tests: every sample must belong
 * to a metric announced by `# HELP` and `# TYPE`, and every line must be well-formed.
 */

/** One parsed metric family. */
export interface MetricFamily {
  name: string;
  help: string;
  type: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;

/**
 * Parses exposition text into families by name; throws on any malformed line.
 *
 * @example
 * ```ts
 * parseExposition("# HELP up Up.\n# TYPE up gauge\nup 1\n").get("up")?.samples[0].value; // 1
 * ```
 */
export function parseExposition(text: string): Map<string, MetricFamily> {
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline");
  const families = new Map<string, MetricFamily>();
  let current: MetricFamily | undefined;
  for (const line of text.slice(0, -1).split("\n")) {
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (help) {
      if (families.has(help[1])) throw new Error(`metric ${help[1]} announced twice`);
      current = { name: help[1], help: help[2], type: "", samples: [] };
      families.set(help[1], current);
    } else if (type) {
      if (current?.name !== type[1]) throw new Error(`# TYPE without # HELP: ${line}`);
      current.type = type[2];
    } else {
      const sample = SAMPLE.exec(line);
      if (!sample) throw new Error(`malformed line: ${JSON.stringify(line)}`);
      const [, name, labelText, rawValue] = sample;
      if (!current?.type || !belongsTo(name, current)) {
        throw new Error(`sample ${name} outside its family`);
      }
      const value = rawValue === "+Inf" ? Infinity : rawValue === "-Inf" ? -Infinity : Number(
        rawValue,
      );
      if (Number.isNaN(value) && rawValue !== "NaN") throw new Error(`bad value: ${line}`);
      current.samples.push({ name, labels: parseLabels(labelText ?? ""), value });
    }
  }
  return families;
}

function belongsTo(name: string, family: MetricFamily): boolean {
  if (name === family.name) return true;
  return family.type === "histogram" &&
    ["_bucket", "_sum", "_count"].some((suffix) => name === `${family.name}${suffix}`);
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const start = LABEL.lastIndex;
    const match = LABEL.exec(text);
    if (!match) throw new Error(`malformed labels at ${start}: ${text}`);
    labels[match[1]] = match[2].replace(/\\n/g, "\n").replace(/\\(["\\])/g, "$1");
  }
  return labels;
}

/** The value of the sample `name` whose labels include `labels`; `undefined` when absent. */
export function sampleValue(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (
        sample.name === name &&
        Object.entries(labels).every(([key, value]) => sample.labels[key] === value)
      ) {
        return sample.value;
      }
    }
  }
  return undefined;
}
