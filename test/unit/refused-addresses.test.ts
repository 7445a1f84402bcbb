import { describe, expect, it } from 'vitest';
import { addressRefusal } from '../../src/http/refused-addresses.ts';

const strict = { allowLoopback: false };
const loopbackAllowed = { allowLoopback: true };

describe('addresses provider results are never downloaded from', () => {
  it.each([
    ['0.0.0.0', 'unspecified ("this network")'],
    ['0.1.2.3', 'unspecified ("this network")'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.5', 'private (RFC 1918)'],
    ['172.16.0.1', 'private (RFC 1918)'],
    ['172.31.255.255', 'private (RFC 1918)'],
    ['192.168.1.1', 'private (RFC 1918)'],
    ['100.64.0.1', 'shared address space (CGNAT, RFC 6598)'],
    ['100.127.255.255', 'shared address space (CGNAT, RFC 6598)'],
    ['169.254.0.1', 'link-local'],
    ['169.254.169.254', 'cloud metadata'],
    ['169.254.170.2', 'cloud metadata'],
    ['100.100.100.200', 'cloud metadata'],
    ['192.0.0.8', 'reserved (IETF protocol assignments)'],
    ['192.0.2.10', 'reserved (documentation)'],
    ['198.18.0.1', 'reserved (benchmarking)'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
  ])('IPv4 %s: %s', (address, rule) => {
    expect(addressRefusal(address, strict)).toBe(rule);
  });

  it.each([
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['fc00::1', 'unique local (RFC 4193)'],
    ['fd12:3456:789a::1', 'unique local (RFC 4193)'],
    ['fd00:ec2::254', 'cloud metadata'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['fec0::1', 'site-local (deprecated)'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved (documentation)'],
    ['100::1', 'reserved (discard-only)'],
    ['64:ff9b:1::1', 'reserved (local NAT64)'],
    ['::10.0.0.5', 'reserved (IPv4-compatible)'],
  ])('IPv6 %s: %s', (address, rule) => {
    expect(addressRefusal(address, strict)).toBe(rule);
  });

  it.each([
    ['::ffff:10.0.0.5', 'private (RFC 1918), as IPv4-mapped IPv6'],
    ['::ffff:a00:5', 'private (RFC 1918), as IPv4-mapped IPv6'],
    ['0:0:0:0:0:ffff:169.254.169.254', 'cloud metadata, as IPv4-mapped IPv6'],
    ['::FFFF:192.168.0.1', 'private (RFC 1918), as IPv4-mapped IPv6'],
    ['64:ff9b::10.1.2.3', 'private (RFC 1918), as NAT64 IPv6'],
    ['2002:a9fe:a9fe::1', 'cloud metadata, as 6to4 IPv6'],
    ['2002:c0a8:0101::1', 'private (RFC 1918), as 6to4 IPv6'],
  ])('an IPv6 address carrying an IPv4 one is judged by it: %s', (address, rule) => {
    expect(addressRefusal(address, strict)).toBe(rule);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '172.15.255.255',
    '172.32.0.0',
    '100.63.255.255',
    '100.128.0.0',
    '169.253.255.255',
    '192.169.0.1',
    '223.255.255.255',
    '2606:4700::6810:84e5',
    '2a00:1450:4001:80b::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::8.8.8.8',
    '2002:0808:0808::1',
    'fbff:ffff::1',
    'fe7f::1',
  ])('allows the public address %s', (address) => {
    expect(addressRefusal(address, strict)).toBeUndefined();
  });

  it('refuses text that is not an IP address', () => {
    for (const text of ['', 'localhost', '127.1', '010.0.0.1', '1.2.3.4.5', '::ffff:1.2.3', 'gggg::1']) {
      expect(addressRefusal(text, strict), text).toBe('not an IP address');
    }
  });

  it('the test switch allows loopback (mapped too), and nothing else', () => {
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) {
      expect(addressRefusal(address, strict), address).toBe('loopback');
      expect(addressRefusal(address, loopbackAllowed), address).toBeUndefined();
    }
    for (const address of ['0.0.0.0', '::', '10.0.0.5', '169.254.169.254', 'fd00:ec2::254', '::ffff:10.0.0.5']) {
      expect(addressRefusal(address, loopbackAllowed), address).toBeDefined();
    }
  });
});
