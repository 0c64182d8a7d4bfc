/**
 * Whether a host name matches one of a list of patterns: a name exactly, or `*.` and a domain
 * for its subdomains (not the domain itself). Case-insensitive; ports are not part of it.
 *
 * @example
 * ```ts
 * hostMatchesAny("hooks.example.com", ["*.example.com"]); // true
 * hostMatchesAny("example.com", ["*.example.com"]); // false
 * ```
 */
export function hostMatchesAny(host: string, patterns: readonly string[]): boolean {
  const name = host.toLowerCase();
  return patterns.some((pattern) =>
    pattern.startsWith("*.") ? name.endsWith(pattern.slice(1)) : name === pattern
  );
}
