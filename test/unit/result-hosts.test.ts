import { describe, expect, it } from 'vitest';
import { hostAllowed, resultHostSchema, resultHostsSchema } from '../../src/http/result-hosts.ts';

const hostOf = (url: string) => new URL(url).hostname;

describe('result hosts', () => {
  it('normalizes entries as the URL parser spells host names', () => {
    expect(resultHostsSchema.parse([' CDN.Example.com ', '*.R2.dev', '127.0.0.1', '[::1]', '::1', 'bücher.example'])).toEqual([
      'cdn.example.com',
      '*.r2.dev',
      '127.0.0.1',
      '[::1]',
      '[::1]',
      'xn--bcher-kva.example',
    ]);
  });

  it.each([
    ['https://cdn.example.com/x.png', 'must be a host name alone'],
    ['cdn.example.com:443', 'port'],
    ['cdn.example.com/media', 'path'],
    ['user@cdn.example.com', 'host name alone'],
    ['cdn.example.com?x=1', 'query'],
    ['', 'is not a host name'],
    ['exa mple.com', 'is not a host name'],
    ['*', 'is not a host name'],
    ['cdn.example.com.', 'is not a host name'],
    ['-cdn.example.com', 'is not a host name'],
    ['*.com', 'top-level domain'],
    ['*.10.0.0.1', 'IP address'],
    ['*.[::1]', 'IP address'],
    ['metadata.google.internal', 'cloud metadata host'],
    ['*.google.internal', 'covers a cloud metadata host'],
  ])('refuses the entry "%s", saying why', (entry, why) => {
    const parsed = resultHostSchema.safeParse(entry);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toContain(why);
  });

  it('refuses an empty list', () => {
    expect(resultHostsSchema.safeParse([]).success).toBe(false);
  });

  it('matches a name exactly, and a wildcard on the names under it only', () => {
    const hosts = resultHostsSchema.parse(['cdn.example.com', '*.amazonaws.com', '127.0.0.1', '[::1]']);
    expect(hostAllowed(hosts, hostOf('https://cdn.example.com/a.png'))).toBe(true);
    expect(hostAllowed(hosts, hostOf('https://CDN.EXAMPLE.COM/a.png'))).toBe(true);
    expect(hostAllowed(hosts, hostOf('https://bucket.s3.eu-west-1.amazonaws.com/a.png?X-Amz-Signature=x'))).toBe(true);
    expect(hostAllowed(hosts, hostOf('http://127.0.0.1:8080/a.png'))).toBe(true);
    expect(hostAllowed(hosts, hostOf('http://[::1]:8080/a.png'))).toBe(true);

    expect(hostAllowed(hosts, hostOf('https://amazonaws.com/a.png'))).toBe(false);
    expect(hostAllowed(hosts, hostOf('https://evilamazonaws.com/a.png'))).toBe(false);
    expect(hostAllowed(hosts, hostOf('https://amazonaws.com.evil.example/a.png'))).toBe(false);
    expect(hostAllowed(hosts, hostOf('https://x.cdn.example.com/a.png'))).toBe(false);
    expect(hostAllowed(hosts, hostOf('https://cdn.example.com.evil.example/a.png'))).toBe(false);
    expect(hostAllowed(hosts, hostOf('http://localhost/a.png'))).toBe(false);
    // The URL parser turns other spellings of 127.0.0.1 into it: they match the entry, nothing else.
    expect(hostAllowed(hosts, hostOf('http://2130706433/a.png'))).toBe(true);
    expect(hostAllowed(hosts, hostOf('http://127.0.0.2/a.png'))).toBe(false);
    expect(hostAllowed([], hostOf('https://cdn.example.com/a.png'))).toBe(false);
  });
});
