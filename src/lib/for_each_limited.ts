/**
 * Runs `fn` over `items` with at most `limit` at once; after a failure starts no new item, waits
 * for those running, and throws the first failure.
 *
 * @example
 * ```ts
 * await forEachLimited(paths, 16, async (path) => await Deno.lstat(path));
 * ```
 */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        await fn(items[index], index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(limit, 1), items.length) }, worker));
  if (failure) throw failure.error;
}
