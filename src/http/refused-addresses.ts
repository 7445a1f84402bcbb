/**
 * The IP addresses a provider result is never downloaded from: everything that is not a public
 * unicast address (loopback, private, unique local, link-local, shared/CGNAT, unspecified,
 * multicast, broadcast, reserved and documentation ranges) and the cloud metadata endpoints. An
 * IPv6 address that carries an IPv4 one (IPv4-mapped, NAT64, 6to4) is judged by the IPv4 address
 * it reaches. Pure: the connect-time check (result-connector.ts) applies it to every address a
 * result connection would use.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** What may be relaxed: loopback, for tests and the demo (the simulators listen on 127.0.0.1). */
export interface AddressOptions {
  allowLoopback: boolean;
}

/** Why an address is refused, for messages: e.g. `loopback`, `private (RFC 1918)`. */
export type AddressRule = string;

interface Range {
  bytes: Uint8Array;
  bits: number;
  rule: AddressRule;
}

const loopback = 'loopback';

/** IPv4 ranges, the first match wins (so the metadata addresses before link-local and CGNAT). */
const ipv4Ranges = ranges(ipv4Bytes, [
  ['169.254.169.254/32', 'cloud metadata'],
  ['169.254.170.2/32', 'cloud metadata'],
  ['100.100.100.200/32', 'cloud metadata'],
  ['0.0.0.0/8', 'unspecified ("this network")'],
  ['127.0.0.0/8', loopback],
  ['10.0.0.0/8', 'private (RFC 1918)'],
  ['172.16.0.0/12', 'private (RFC 1918)'],
  ['192.168.0.0/16', 'private (RFC 1918)'],
  ['100.64.0.0/10', 'shared address space (CGNAT, RFC 6598)'],
  ['169.254.0.0/16', 'link-local'],
  ['192.0.0.0/24', 'reserved (IETF protocol assignments)'],
  ['192.0.2.0/24', 'reserved (documentation)'],
  ['198.51.100.0/24', 'reserved (documentation)'],
  ['203.0.113.0/24', 'reserved (documentation)'],
  ['198.18.0.0/15', 'reserved (benchmarking)'],
  ['224.0.0.0/4', 'multicast'],
  ['255.255.255.255/32', 'broadcast'],
  ['240.0.0.0/4', 'reserved'],
]);

/** IPv6 prefixes that carry an IPv4 address, and where its four bytes are. */
const embeddingPrefixes = ranges(ipv6Bytes, [
  ['::ffff:0:0/96', 'IPv4-mapped'],
  ['64:ff9b::/96', 'NAT64'],
  ['2002::/16', '6to4'],
]).map((range) => ({ ...range, offset: range.bits === 16 ? 2 : 12 }));

/** IPv6 ranges, the first match wins (after the embedding prefixes above). */
const ipv6Ranges = ranges(ipv6Bytes, [
  ['fd00:ec2::254/128', 'cloud metadata'],
  ['::/128', 'unspecified'],
  ['::1/128', loopback],
  ['::/96', 'reserved (IPv4-compatible)'],
  ['64:ff9b:1::/48', 'reserved (local NAT64)'],
  ['100::/64', 'reserved (discard-only)'],
  ['2001:db8::/32', 'reserved (documentation)'],
  ['fc00::/7', 'unique local (RFC 4193)'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local (deprecated)'],
  ['ff00::/8', 'multicast'],
]);

/**
 * Why `address` (an IPv4 or IPv6 literal; an IPv6 zone is ignored) may not be connected to, or
 * undefined when it is a public unicast address. Text that is no IP address is refused.
 */
export function addressRefusal(address: string, options: AddressOptions): AddressRule | undefined {
  const rule = classify(address);
  return rule === loopback && options.allowLoopback ? undefined : rule;
}

function classify(address: string): AddressRule | undefined {
  const v4 = ipv4Bytes(address);
  if (v4) return ipv4Rule(v4);
  const v6 = ipv6Bytes(address);
  if (!v6) return 'not an IP address';
  for (const prefix of embeddingPrefixes) {
    if (!within(v6, prefix)) continue;
    const rule = ipv4Rule(v6.subarray(prefix.offset, prefix.offset + 4));
    // An embedded loopback stays `loopback`, so the test switch applies to it too.
    return rule === undefined || rule === loopback ? rule : `${rule}, as ${prefix.rule} IPv6`;
  }
  return ipv6Ranges.find((range) => within(v6, range))?.rule;
}

function ipv4Rule(bytes: Uint8Array): AddressRule | undefined {
  return ipv4Ranges.find((range) => within(bytes, range))?.rule;
}

/** Whether the first `range.bits` bits of `bytes` are those of the range. */
function within(bytes: Uint8Array, range: Range): boolean {
  if (bytes.length !== range.bytes.length) return false;
  const whole = range.bits >> 3;
  for (let i = 0; i < whole; i++) if (bytes[i] !== range.bytes[i]) return false;
  const rest = range.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((bytes[whole] ?? 0) & mask) === ((range.bytes[whole] ?? 0) & mask);
}

function ranges(parse: (text: string) => Uint8Array | undefined, table: readonly [string, AddressRule][]): Range[] {
  return table.map(([cidr, rule]) => {
    const [text = '', bits = ''] = cidr.split('/');
    const bytes = parse(text);
    if (!bytes) throw new Error(`bad range ${cidr}`);
    return { bytes, bits: Number(bits), rule };
  });
}

/** The four bytes of a dotted-quad IPv4 address, or undefined. */
function ipv4Bytes(text: string): Uint8Array | undefined {
  if (!isIPv4(text)) return undefined;
  return Uint8Array.from(text.split('.').map(Number));
}

/** The sixteen bytes of an IPv6 address (`::` compression and a trailing dotted quad allowed), or undefined. */
function ipv6Bytes(text: string): Uint8Array | undefined {
  let address = text.split('%')[0] ?? '';
  if (!isIPv6(address)) return undefined;
  const bytes = new Uint8Array(16);
  const lastColon = address.lastIndexOf(':');
  const quad = ipv4Bytes(address.slice(lastColon + 1));
  if (quad) {
    bytes.set(quad, 12);
    address = `${address.slice(0, lastColon + 1)}0:0`;
  }
  const [left = '', right] = address.split('::');
  const head = left === '' ? [] : left.split(':');
  const tail = right === undefined || right === '' ? [] : right.split(':');
  const groups = [...head, ...new Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  groups.forEach((group, i) => {
    if (quad && i >= 6) return;
    const value = Number.parseInt(group, 16);
    bytes[i * 2] = value >> 8;
    bytes[i * 2 + 1] = value & 0xff;
  });
  return bytes;
}
