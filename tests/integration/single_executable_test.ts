/**
 * `deno task compile` builds one executable from src/main.ts. What can be checked offline: the
 * module graph holds everything the gateway loads (no dynamic imports, no files read beside the
 * code), and `deno compile` with the task's flags gets as far as embedding it. The runtime that a
 * real executable is built on (denort) is downloaded by `deno compile`; with `DENORT_BIN` set to a
 * real denort, this test also builds the executable and runs it.
 */
import { strict as assert } from "node:assert";
import { launchPlan } from "../../src/launch/launch_plan.ts";
import { spawnGateway } from "../support/gateway_process.ts";
import { withTempDir } from "../support/temp_dir.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const processTest = { sanitizeOps: false, sanitizeResources: false };

interface InfoModule {
  specifier: string;
  kind: string;
  dependencies?: {
    specifier: string;
    code?: { specifier?: string };
    isDynamic?: boolean;
    assertionType?: string;
  }[];
}

async function moduleGraph(): Promise<InfoModule[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--frozen", "src/main.ts"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout)).modules;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...await sourceFiles(path));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files;
}

Deno.test("src/main.ts's module graph holds the gateway's own code, lazy imports included", async () => {
  const modules = await moduleGraph();
  const local = modules.filter((m) => m.specifier.startsWith("file://"));
  assert.ok(local.length > 20);
  for (const module of local) {
    assert.ok(module.specifier.startsWith(`file://${ROOT}src/`), `${module.specifier} is in src/`);
    for (const dependency of module.dependencies ?? []) {
      // A lazy import with a literal specifier is in the graph, so `deno compile` embeds it: a
      // module of ours, or a package's (npm: in the graph, resolved through deno.json).
      if (!dependency.isDynamic) continue;
      const resolved = dependency.code?.specifier ??
        new URL(dependency.specifier, module.specifier).href;
      // `npm:qrcode@^1.5.4` is in the graph as `npm:/qrcode@1.5.4`.
      const npmName = /^npm:\/?((?:@[^/]+\/)?[^@/]+)@/.exec(resolved)?.[1];
      assert.ok(
        modules.some((m) =>
          m.specifier === resolved || (npmName && m.specifier.startsWith(`npm:/${npmName}@`))
        ),
        `${module.specifier} imports ${dependency.specifier} lazily, outside the graph`,
      );
    }
  }
});

Deno.test("Swagger UI is part of the module graph, imported as text (by a module loaded lazily)", async () => {
  const modules = await moduleGraph();
  const docs = modules.find((m) => m.specifier.endsWith("/src/http/api_docs.ts"));
  assert.ok(
    docs?.dependencies?.some((d) => d.specifier === "./swagger_ui_assets.ts" && d.isDynamic),
    "api_docs.ts loads swagger_ui_assets.ts lazily",
  );
  const holder = modules.find((m) => m.specifier.endsWith("/src/http/swagger_ui_assets.ts"));
  const assets = (holder?.dependencies ?? []).filter((d) => d.specifier.startsWith("swagger-ui"));
  assert.deepEqual(
    assets.map((d) => [d.specifier, d.assertionType, d.isDynamic ?? false]).sort(),
    [
      ["swagger-ui-dist/swagger-ui-bundle.js", "text", false],
      ["swagger-ui-dist/swagger-ui.css", "text", false],
    ],
  );
});

Deno.test("the gateway's code reads no file of its own at run time, but its included workers", async () => {
  // A compiled executable has no source tree beside it: nothing may be located from the code,
  // except worker modules, which `deno task compile` embeds with --include. The launcher
  // (src/launch/) is the exception: it runs from a checkout, before the gateway, never inside.
  const located = /import\.meta\.(?:url|dirname|filename|resolve)|\bimport\(\s*[^"'\s)]/;
  const workerModule = /new URL\("(\.\/[a-z_]+\.ts)", import\.meta\.url\)/;
  const compileTask = launchPlan("compile", [], {}).join(" ");
  let workers = 0;
  for (const file of await sourceFiles(`${ROOT}src`)) {
    if (file.startsWith(`${ROOT}src/launch/`)) continue;
    const lines = (await Deno.readTextFile(file)).split("\n");
    lines.forEach((line, i) => {
      if (/^\s*(\*|\/\/)/.test(line)) return; // comments and JSDoc examples
      const where = `${file.slice(ROOT.length)}:${i + 1}: ${line.trim()}`;
      const worker = line.match(workerModule);
      if (worker) {
        workers++;
        const path = new URL(worker[1], `file://${file}`).pathname;
        assert.ok(compileTask.includes(`--include ${path}`), `${where} is not --include'd`);
        return;
      }
      assert.ok(!located.test(line), where);
    });
  }
  assert.equal(workers, 1, "the connection worker");
});

/** The arguments that `deno task compile` runs `deno` with, with the output moved to `output`. */
function compileArgs(output: string, env: Record<string, string> = {}): string[] {
  const words = launchPlan("compile", [], env);
  const at = words.indexOf("--output");
  assert.ok(at > 0 && words[at + 1] === "dist/wa-gateway");
  words[at + 1] = output;
  return words;
}

const realDenort = Deno.env.get("DENORT_BIN");

Deno.test(
  realDenort
    ? "deno task compile builds an executable that serves the gateway"
    : "deno task compile's flags compile the module graph offline (runtime stand-in: the deno binary)",
  processTest,
  () =>
    withTempDir(async (dir) => {
      const binary = `${dir}/wa-gateway`;
      const dataDir = `${dir}/sessions_data`;
      const apiKeyFile = `${dir}/api-key`;
      const build = await new Deno.Command(Deno.execPath(), {
        // Built for a data directory and a key file outside the repository, as on a VPS.
        args: compileArgs(binary, { SESSIONS_DATA_PATH: dataDir, API_KEY_FILE: apiKeyFile }),
        cwd: ROOT,
        // Without a real denort, the deno binary stands in: the build completes (graph, npm
        // packages, flags) but the result runs as plain deno, so it is not started.
        env: { NO_COLOR: "1", DENORT_BIN: realDenort ?? Deno.execPath() },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(build.success, new TextDecoder().decode(build.stderr));

      const bytes = await Deno.readFile(binary);
      const text = new TextDecoder("latin1").decode(bytes);
      for (
        const baked of [
          `"allow_read":${JSON.stringify([dataDir, apiKeyFile])}`,
          `"allow_write":${JSON.stringify([dataDir])}`,
          `"allow_net":[]`,
          `"allow_env":[]`,
          `"allow_sys":["hostname"]`,
        ]
      ) {
        assert.ok(text.includes(baked), `the executable carries ${baked}`);
      }
      // V8's gc, with which media sends free their chunk buffers (src/media/chunk_garbage.ts).
      assert.match(text, /"v8_flags":\[[^\]]*"--expose-gc"/, "the executable exposes V8's gc");
      assert.match(
        text,
        /"v8_flags":\[[^\]]*"--max-semi-space-size=2"/,
        "and small young generations",
      );
      assert.ok(text.includes("SwaggerUIBundle"), "Swagger UI is embedded");
      assert.ok(text.includes("connection_worker.ts"), "the connection worker is embedded");
      if (!realDenort) return;

      const gateway = await spawnGateway({
        dataDir,
        executable: binary,
      });
      try {
        for (const path of ["/health", "/docs/swagger-ui-bundle.js", "/openapi.json"]) {
          const response = await fetch(`${gateway.url}${path}`);
          assert.equal(response.status, 200, path);
          await response.body?.cancel();
        }
      } finally {
        await gateway.dispose();
      }
    }),
);
