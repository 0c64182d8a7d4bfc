/**
 * Which IP addresses a media URL may reach: public unicast ones only. Refused are loopback,
 * private (RFC 1918, unique-local), link-local (cloud metadata at 169.254.169.254), carrier-grade
 * NAT, "this network", benchmarking, documentation, multicast and reserved ranges, and IPv6 forms
 * that embed a refused IPv4 address (mapped, compatible, NAT64, 6to4).
 */

const IPV4_REFUSED: readonly [string, number][] = [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local (cloud metadata)
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.88.99.0", 24], // 6to4 relay anycast
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, and broadcast
];

/** IPv6 ranges refused outright, as (first group prefix, prefix length over the 128 bits). */
const IPV6_REFUSED: readonly [number[], number][] = [
  [[0xfc00], 7], // unique local
  [[0xfe80], 10], // link-local
  [[0xfec0], 10], // site-local (deprecated)
  [[0xff00], 8], // multicast
  [[0x2001, 0x0db8], 32], // documentation
  [[0x0100, 0, 0, 0], 64], // discard
  [[0x2001, 0], 23], // IETF protocol assignments (Teredo included)
];

function parseIpv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) < 256)) {
    return null;
  }
  return parts.reduce((value, part) => value * 256 + Number(part), 0);
}

/** The eight 16-bit groups of an IPv6 address (zone id ignored); `null` if it is not one. */
function parseIpv6(text: string): number[] | null {
  let address = text.split("%")[0].toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (dotted) {
    const v4 = parseIpv4(dotted[1]);
    if (v4 === null) return null;
    address = `${address.slice(0, dotted.index)}${(v4 >>> 16).toString(16)}:${
      (v4 & 0xffff).toString(16)
    }`;
  }
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const groups = (half: string) => (half === "" ? [] : half.split(":"));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...new Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (!all.every((group) => /^[0-9a-f]{1,4}$/.test(group))) return null;
  return all.map((group) => parseInt(group, 16));
}

function ipv4Refused(value: number): boolean {
  return IPV4_REFUSED.some(([base, bits]) => {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    return ((value & mask) >>> 0) === ((parseIpv4(base)! & mask) >>> 0);
  });
}

function ipv6Refused(groups: number[]): boolean {
  const embedded = (high: number, low: number) => ipv4Refused(high * 65536 + low);
  const zeros = (from: number, to: number) => groups.slice(from, to).every((g) => g === 0);
  if (zeros(0, 8)) return true; // unspecified
  if (zeros(0, 7) && groups[7] === 1) return true; // loopback
  if (zeros(0, 5) && groups[5] === 0xffff) return embedded(groups[6], groups[7]); // mapped
  if (zeros(0, 6)) return true; // IPv4-compatible (deprecated)
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zeros(2, 6)) {
    return embedded(groups[6], groups[7]); // NAT64
  }
  if (groups[0] === 0x2002) return embedded(groups[1], groups[2]); // 6to4
  return IPV6_REFUSED.some(([prefix, bits]) => {
    for (let bit = 0; bit < bits; bit += 16) {
      const width = Math.min(16, bits - bit);
      const mask = (0xffff << (16 - width)) & 0xffff;
      if ((groups[bit / 16] & mask) !== ((prefix[bit / 16] ?? 0) & mask)) return false;
    }
    return true;
  });
}

/**
 * Whether `address` (an IPv4 or IPv6 literal) is one a media URL may not reach. Anything that
 * does not parse as an address is refused too.
 *
 * @example
 * ```ts
 * isRefusedAddress("10.0.0.1"); // true
 * isRefusedAddress("::ffff:127.0.0.1"); // true
 * isRefusedAddress("93.184.216.34"); // false
 * ```
 */
export function isRefusedAddress(address: string): boolean {
  const v4 = parseIpv4(address);
  if (v4 !== null) return ipv4Refused(v4);
  const v6 = parseIpv6(address);
  return v6 === null ? true : ipv6Refused(v6);
}

/**
 * The IP address a URL host names literally (IPv6 without its brackets); `null` for a name.
 *
 * @example
 * ```ts
 * ipLiteral("[::1]"); // "::1"
 * ipLiteral("example.com"); // null
 * ```
 */
export function ipLiteral(hostname: string): string | null {
  const bare = hostname.startsWith("[") && hostname.endsWith("]")
    ? hostname.slice(1, -1)
    : hostname;
  return parseIpv4(bare) !== null || parseIpv6(bare) !== null ? bare : null;
}
