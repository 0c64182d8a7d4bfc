/**
 * The main thread loads no Baileys: with connection workers (the default) Baileys runs in them
 * only, and loading it on the main thread too costs about 45 MiB of idle RSS (issue 17's target).
 * Checked on the module graph `deno info` reports for `src/main.ts`: no chain of static imports
 * reaches the package; the main thread's own Baileys (`CONNECTION_WORKERS=0`, media references)
 * comes through dynamic imports.
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

Deno.test("no static import chain takes Baileys into the main thread", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "src/main.ts"],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  const graph = JSON.parse(new TextDecoder().decode(output.stdout));
  const chain = staticChain(graph.modules, graph.roots[0], /^npm:.*@whiskeysockets\/baileys@/);
  assert.equal(chain, null, `main.ts reaches Baileys through ${chain?.join(" → ")}`);
});
