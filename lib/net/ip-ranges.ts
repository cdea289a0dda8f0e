import { isIPv4, isIPv6 } from 'node:net';

/**
 * Which addresses an outbound request must never reach. `blockedRange(ip)` names the range an
 * address falls in ('loopback', 'private', 'link-local', 'metadata', …) or returns null for a
 * public unicast address. IPv6 forms that carry an IPv4 address (IPv4-mapped ::ffff:a.b.c.d,
 * IPv4-compatible ::a.b.c.d, SIIT ::ffff:0:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16) are
 * judged by the IPv4 address inside them.
 */

type Range = readonly [prefix: readonly number[], bits: number, name: string];

// Specific cloud metadata endpoints first, so the reason says what they are.
const METADATA_V4: readonly Range[] = [
  [[169, 254, 169, 254], 32, 'metadata'], // AWS, GCP, Azure, OpenStack, …
  [[169, 254, 170, 2], 32, 'metadata'], // AWS ECS task metadata
  [[168, 63, 129, 16], 32, 'metadata'], // Azure wire server (a public address)
  [[100, 100, 100, 200], 32, 'metadata'], // Alibaba Cloud
];

const V4: readonly Range[] = [
  ...METADATA_V4,
  [[0], 8, 'unspecified'],
  [[10], 8, 'private'],
  [[100, 64], 10, 'cgnat'],
  [[127], 8, 'loopback'],
  [[169, 254], 16, 'link-local'],
  [[172, 16], 12, 'private'],
  [[192, 0, 0], 24, 'reserved'],
  [[192, 0, 2], 24, 'documentation'],
  [[192, 88, 99], 24, 'reserved'],
  [[192, 168], 16, 'private'],
  [[198, 18], 15, 'benchmarking'],
  [[198, 51, 100], 24, 'documentation'],
  [[203, 0, 113], 24, 'documentation'],
  [[224], 4, 'multicast'],
  [[240], 4, 'reserved'], // includes 255.255.255.255
];

// As 16 bytes. Forms embedding IPv4 are handled before this table.
const V6: readonly Range[] = [
  [[0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54], 128, 'metadata'], // AWS fd00:ec2::254
  [[...Array(15).fill(0), 1], 128, 'loopback'],
  [Array(16).fill(0), 128, 'unspecified'],
  [[0, 0x64, 0xff, 0x9b, 0, 1], 48, 'reserved'], // local-use NAT64
  [[0x01, 0x00, 0, 0, 0, 0, 0, 0], 64, 'reserved'], // discard-only
  [[0x20, 0x01, 0, 0], 32, 'reserved'], // Teredo (hides an IPv4 address)
  [[0x20, 0x01, 0x0d, 0xb8], 32, 'documentation'],
  [[0xfc], 7, 'unique-local'],
  [[0xfe, 0x80], 10, 'link-local'],
  [[0xfe, 0xc0], 10, 'site-local'],
  [[0xff], 8, 'multicast'],
];

function matches(bytes: readonly number[], [prefix, bits]: Range): boolean {
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((bytes[i] ?? 0) & mask) !== ((prefix[i] ?? 0) & mask)) return false;
  }
  return true;
}

function parseV4(ip: string): number[] {
  return ip.split('.').map(Number);
}

/** 16 bytes of a valid IPv6 address (zone id dropped). */
export function parseV6(ip: string): number[] {
  let s = ip.includes('%') ? ip.slice(0, ip.indexOf('%')) : ip;
  const tail = s.slice(s.lastIndexOf(':') + 1);
  if (tail.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = parseV4(tail);
    s = `${s.slice(0, s.length - tail.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = s.split('::');
  const h = head ? head.split(':') : [];
  const r = rest === undefined ? [] : rest ? rest.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - r.length).fill('0'), ...r].map((g) => Number.parseInt(g, 16));
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

function v4Range(bytes: readonly number[]): string | null {
  return V4.find((range) => matches(bytes, range))?.[2] ?? null;
}

const EMBEDDING: readonly [prefix: readonly number[], bits: number, at: number][] = [
  [[...Array(10).fill(0), 0xff, 0xff], 96, 12], // IPv4-mapped
  [[...Array(8).fill(0), 0xff, 0xff, 0, 0], 96, 12], // SIIT IPv4-translated
  [[0, 0x64, 0xff, 0x9b, ...Array(8).fill(0)], 96, 12], // NAT64 well-known prefix
  [[0x20, 0x02], 16, 2], // 6to4
];

/** The blocked range `ip` falls in, or null when it is a public unicast address (or not an IP). */
export function blockedRange(ip: string): string | null {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  if (isIPv4(bare)) return v4Range(parseV4(bare));
  if (!isIPv6(bare)) return null;
  const bytes = parseV6(bare);
  for (const [prefix, bits, at] of EMBEDDING) {
    if (matches(bytes, [prefix, bits, ''])) return v4Range(bytes.slice(at, at + 4));
  }
  // IPv4-compatible ::a.b.c.d (deprecated): ::/96 other than :: and ::1
  const own = V6.find((range) => matches(bytes, range))?.[2];
  if (own) return own;
  if (matches(bytes, [Array(12).fill(0), 96, ''])) return v4Range(bytes.slice(12)) ?? 'reserved';
  return null;
}
