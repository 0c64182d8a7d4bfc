/**
 * A full disk where none can be mounted: the real `FileSessionStore` underneath, with every
 * write failing as the OS fails it on a full disk (`ENOSPC`) while `full` is set.
 */
import {
  ForwardingSessionStore,
  type StoreWriteKind,
} from "../../src/domain/forwarding_session_store.ts";

/** The error Deno raises for a write to a full disk. */
export function enospc(): Error {
  return Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" });
}

/** Wraps a real store; its writes fail with `ENOSPC` while `full` is true. */
export class NoSpaceInjector extends ForwardingSessionStore {
  full = false;

  /** The probe a full-disk store uses: fails like the writes do. */
  readonly probe = (): Promise<void> => this.full ? Promise.reject(enospc()) : Promise.resolve();

  override flush(): Promise<void> {
    return this.around("metadata", "flush", () => this.inner.flush());
  }

  protected around<T>(_kind: StoreWriteKind, _what: string, write: () => Promise<T>): Promise<T> {
    return this.full ? Promise.reject(enospc()) : write();
  }
}
