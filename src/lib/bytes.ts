/** Byte-array helpers that Deno has no built-in for (no `@std/bytes` here). */

/**
 * `a` followed by `b`: `b` itself when `a` is empty (no copy), a new array otherwise.
 *
 * @example
 * ```ts
 * concatBytes(new Uint8Array([1]), new Uint8Array([2, 3])); // Uint8Array [1, 2, 3]
 * ```
 */
export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

/**
 * Where `needle` first occurs in `haystack` at or after `from`; -1 if nowhere.
 *
 * @example
 * ```ts
 * indexOfBytes(new TextEncoder().encode("a\r\nb"), new Uint8Array([13, 10]), 0); // 1
 * ```
 */
export function indexOfBytes(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = Math.max(0, from); i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
