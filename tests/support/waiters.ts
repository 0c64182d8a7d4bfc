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
