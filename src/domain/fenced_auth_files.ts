import { FencedOutError } from "./errors.ts";
import type { Fence } from "./fence.ts";
import type { AuthFiles } from "./session_store.ts";

/**
 * Wraps a session's auth files so that a write the store refuses under a stale fence is reported
 * at once (`onFenced`), out of band: Baileys retries a failed key write for half a minute, and the
 * node must end the socket of a session it lost right away, not after the retries.
 *
 * @example
 * ```ts
 * const auth = reportFencing(store.auth(fence), fence, (f) => ownership.lost(f, "fenced"));
 * ```
 */
export function reportFencing(
  files: AuthFiles,
  fence: Fence,
  onFenced: (fence: Fence) => void,
): AuthFiles {
  const watch = async <T>(write: () => Promise<T>): Promise<T> => {
    try {
      return await write();
    } catch (error) {
      if (error instanceof FencedOutError) onFenced(fence);
      throw error;
    }
  };
  return {
    exists: () => files.exists(),
    read: (name) => files.read(name),
    list: () => files.list(),
    write: (changes) => watch(() => files.write(changes)),
    delete: () => watch(() => files.delete()),
  };
}
