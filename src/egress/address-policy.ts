/**
 * Which IP addresses outbound calls may reach: public unicast only. `blockedRange(ip)` names the special-purpose
 * range an address falls in (loopback, private, link-local, metadata, ...), or returns undefined for a public one.
 * IPv6 forms that embed an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`,
 * IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`) are judged by the IPv4 address inside; the translated and
 * compatible ranges are refused even around a public address, 6to4 (`2002::/16`) and Teredo are refused whole.
 * IPv4 spelt in decimal, octal or hex (`2130706433`, `0177.1`, `0x7f.1`) reaches here normalised by the URL parser.
 *
 * ```ts
 * blockedRange('10.1.2.3');          // 'private (RFC 1918)'
 * blockedRange('::ffff:127.0.0.1');  // 'loopback'
 * blockedRange('93.184.215.14');     // undefined
 * ```
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

const V4: [string, number, string][] = [
  ['0.0.0.0', 8, 'unspecified ("this network")'],
  ['10.0.0.0', 8, 'private (RFC 1918)'],
  ['100.64.0.0', 10, 'carrier-grade NAT (RFC 6598)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.169.254', 32, 'cloud metadata'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private (RFC 1918)'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay'],
  ['192.168.0.0', 16, 'private (RFC 1918)'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['255.255.255.255', 32, 'broadcast'],
  ['240.0.0.0', 4, 'reserved'],
];

const V6: [string, number, string][] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  // Embedding ranges: judged by the IPv4 address inside first, then refused whole (only NAT64 may reach out).
  ['::', 96, 'IPv4-compatible (deprecated)'],
  ['::ffff:0:0:0', 96, 'IPv4-translated'],
  ['64:ff9b:1::', 48, 'local NAT64'],
  ['100::', 64, 'discard'],
  ['2001::', 32, 'Teredo'],
  ['2001:db8::', 32, 'documentation'],
  ['2002::', 16, '6to4'],
  ['fc00::', 7, 'unique local (private)'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
];

/** Ranges are checked in order: the first match names the reason. */
const ranges = [
  ...V4.map(([net, prefix, reason]) => ({ list: one(net, prefix, 'ipv4'), type: 'ipv4' as const, reason })),
  ...V6.map(([net, prefix, reason]) => ({ list: one(net, prefix, 'ipv6'), type: 'ipv6' as const, reason })),
];

function one(net: string, prefix: number, type: 'ipv4' | 'ipv6'): BlockList {
  const list = new BlockList();
  list.addSubnet(net, prefix, type);
  return list;
}

/** The reason `ip` may not be reached, or undefined when it is a public unicast address. Non-IPs are blocked. */
export function blockedRange(ip: string): string | undefined {
  const address = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  if (isIPv4(address)) return firstMatch(address, 'ipv4');
  if (!isIPv6(address)) return 'not an IP address';
  const embedded = embeddedIPv4(address);
  if (embedded !== undefined) return firstMatch(embedded, 'ipv4') ?? firstMatch(address, 'ipv6');
  return firstMatch(address, 'ipv6');
}

function firstMatch(address: string, type: 'ipv4' | 'ipv6'): string | undefined {
  return ranges.find((r) => r.type === type && r.list.check(address, type))?.reason;
}

/** The IPv4 address inside ::ffff:0:0/96, ::ffff:0:0:0/96, ::/96 (not :: or ::1) and 64:ff9b::/96, if any. */
function embeddedIPv4(address: string): string | undefined {
  const words = expandIPv6(address);
  if (words === undefined) return undefined;
  const high = words.slice(0, 6);
  const mapped = high.slice(0, 5).every((w) => w === 0) && high[5] === 0xffff;
  const translated = high.slice(0, 4).every((w) => w === 0) && high[4] === 0xffff && high[5] === 0;
  const compatible = high.every((w) => w === 0) && (words[6] !== 0 || (words[7] ?? 0) > 1);
  const nat64 = high[0] === 0x64 && high[1] === 0xff9b && high.slice(2).every((w) => w === 0);
  if (!mapped && !translated && !compatible && !nat64) return undefined;
  const a = words[6] ?? 0;
  const b = words[7] ?? 0;
  return `${a >> 8}.${a & 0xff}.${b >> 8}.${b & 0xff}`;
}

/** Eight 16-bit words of an IPv6 address (with or without a dotted IPv4 tail). */
function expandIPv6(address: string): number[] | undefined {
  let text = address.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const parts = dotted[1]!.split('.').map(Number);
    const tail = `${(((parts[0] ?? 0) << 8) | (parts[1] ?? 0)).toString(16)}:${(((parts[2] ?? 0) << 8) | (parts[3] ?? 0)).toString(16)}`;
    text = text.slice(0, -dotted[1]!.length) + tail;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? 0 : 8 - left.length - right.length;
  if (fill < 0) return undefined;
  const words = [...left, ...Array<string>(fill).fill('0'), ...right].map((w) => Number.parseInt(w, 16));
  return words.length === 8 && words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff) ? words : undefined;
}
