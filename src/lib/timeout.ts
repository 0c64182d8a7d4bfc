/**
 * Settles as `promise` does, or with what `onTimeout` returns once `ms` pass first (a rejection
 * of `promise` still rejects). The timer is cleared either way, so it never keeps the process
 * alive; `promise` itself goes on.
 *
 * @example
 * ```ts
 * const status = await withTimeout(acked, 10_000, () => "pending");
 * ```
 */
export async function withTimeout<T, F = T>(
  promise: Promise<T>,
  ms: number,
  onTimeout: () => F,
): Promise<T | F> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<F>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout());
      } catch (error) {
        reject(error);
      }
    }, ms);
  });
  try {
    return await Promise.race([promise, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
