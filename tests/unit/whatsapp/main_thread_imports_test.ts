/**
 * The main thread loads no Baileys: with connection workers (the default) Baileys runs in them
 * only, and loading it on the main thread too costs about 45 MiB of idle RSS (issue 17's target).
 * Nor, until they are used, the PostgreSQL client and store (only with `STORE=postgres`), the QR
 * image library or Swagger UI's files (5 MiB as text). Checked on the module graph `deno info`
 * reports for `src/main.ts`: no chain of static imports reaches them; they come through dynamic
 * imports, which `deno compile` embeds all the same.
 */
import { strict as assert } from "node:assert";
import { REPO_ROOT } from "../../support/child_process.ts";

interface GraphModule {
  specifier: string;
  dependencies?: { code?: { specifier?: string }; isDynamic?: boolean }[];
}

/** The chain of static imports from `root` to the first module matching `target`, if any. */
function staticChain(modules: GraphModule[], root: string, target: RegExp): string[] | null {
  const bySpecifier = new Map(modules.map((module) => [module.specifier, module]));
  const previous = new Map<string, string | null>([[root, null]]);
  const queue = [root];
  while (queue.length > 0) {
    const current = queue.shift()!;
    for (const dependency of bySpecifier.get(current)?.dependencies ?? []) {
      const next = dependency.code?.specifier;
      if (!next || dependency.isDynamic || previous.has(next)) continue;
      previous.set(next, current);
      if (target.test(next)) {
        const chain = [next];
        for (let at = previous.get(next); at; at = previous.get(at)) chain.unshift(at);
        return chain;
      }
      queue.push(next);
    }
  }
  return null;
}

async function mainGraph(): Promise<{ modules: GraphModule[]; roots: string[] }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "src/main.ts"],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

const LAZY: [string, RegExp][] = [
  ["Baileys", /^npm:.*@whiskeysockets\/baileys@/],
  ["the PostgreSQL client", /^npm:.*\/postgres@/],
  ["the PostgreSQL store", /\/src\/persistence\/postgres\//],
  ["the QR image library", /^npm:.*\/qrcode@/],
  ["Swagger UI's files", /^npm:.*\/swagger-ui-dist@/],
];

for (const [name, target] of LAZY) {
  Deno.test(`no static import chain takes ${name} into the main thread`, async () => {
    const graph = await mainGraph();
    const chain = staticChain(graph.modules, graph.roots[0], target);
    assert.equal(chain, null, `main.ts reaches ${name} through ${chain?.join(" → ")}`);
  });
}
