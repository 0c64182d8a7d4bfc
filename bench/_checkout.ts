/** Another git ref of this repository, unpacked with its npm packages, to benchmark against. */

async function run(cmd: string, args: string[], cwd: string): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(cmd, { args, cwd }).output();
  const text = new TextDecoder().decode(stdout);
  if (code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(stderr)}`);
  }
  return text;
}

/**
 * Runs `fn` with the files of `ref` (from the repository at `root`) in a temporary directory
 * (with a trailing slash) and their npm packages installed from Deno's cache; removed after.
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
