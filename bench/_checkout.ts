/**
 * The code a benchmark compares with: another checkout (a directory, as the messaging benchmark
 * takes it) or a git ref of this repository, unpacked with its npm packages.
 */

async function run(cmd: string, args: string[], cwd: string): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(cmd, { args, cwd }).output();
  const text = new TextDecoder().decode(stdout);
  if (code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(stderr)}`);
  }
  return text;
}

/**
 * Runs `fn` with the checkout `ref` names: a directory as it is, or the files of a git ref of the
 * repository at `root` in a temporary directory with their npm packages installed from Deno's
 * cache (removed after). The root passed to `fn` ends with a slash.
 *
 * @example
 * ```ts
 * await withCheckout(root, "main", (baselineRoot, commit) => measure(baselineRoot));
 * ```
 */
export async function withCheckout<T>(
  root: string,
  ref: string,
  fn: (checkoutRoot: string, commit: string) => Promise<T>,
): Promise<T> {
  const directory = await Deno.stat(ref).then((info) => info.isDirectory, () => false);
  if (directory) {
    const head = await run("git", ["rev-parse", "HEAD"], ref).catch(() => "unknown");
    return await fn(ref.replace(/\/?$/, "/"), head.trim());
  }
  const commit = (await run("git", ["rev-parse", "--verify", `${ref}^{commit}`], root)).trim();
  const dir = await Deno.makeTempDir({ prefix: "wa-gateway-baseline-" });
  try {
    const archive = `${dir}.tar`;
    await run("git", ["archive", "--format=tar", `--output=${archive}`, commit], root);
    await run("tar", ["-xf", archive, "-C", dir], root);
    await Deno.remove(archive);
    await run(Deno.execPath(), ["install", "--frozen", "--quiet"], dir);
    return await fn(`${dir}/`, commit);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
