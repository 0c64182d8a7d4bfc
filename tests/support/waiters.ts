/**
 * Sleeps until something calls one of `waiters` (a helper's "something changed" signal) or
 * `timeoutMs` passes, whichever comes first; the caller then re-checks its condition.
 *
 * @example
 * ```ts
 * while (!done()) await sleepUntilWoken(waiters, deadline - Date.now());
 * // elsewhere, on each change: for (const wake of waiters) wake();
 * ```
 */
export async function sleepUntilWoken(waiters: Set<() => void>, timeoutMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await new Promise<void>((resolve) => {
    const wake = () => {
      waiters.delete(wake);
      resolve();
    };
    waiters.add(wake);
    timer = setTimeout(wake, timeoutMs);
  });
  clearTimeout(timer);
}

/**
 * Polls `condition` every 10 ms until it holds; throws after `timeoutMs` saying what was awaited.
 *
 * @example
 * ```ts
 * await waitUntil(() => seen.length === 2, 5_000, "both events");
 * ```
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = "the condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
