/**
 * The allow-list of the hosts a provider's result URLs may point at: each provider module declares
 * its documented defaults, a connection may replace them (`resultHosts` in its provider section).
 * An entry is a host name (`cdn.example.com`, matched exactly), a wildcard (`*.example.com`: any
 * name under it, not the name itself) or an IP address (`127.0.0.1`, `[::1]`). Host names compare
 * as the URL parser spells them: lower case, punycode, IPv6 in brackets.
 *
 * The list decides which names may be asked for; the addresses those names resolve to are checked
 * at connect time (result-connector.ts), so an allowed name that resolves to a private address is
 * still refused.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

/** Well-known cloud metadata host names, which no entry may allow (their addresses are refused anyway). */
const metadataHostNames = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data.ec2.internal']);

/** Dot-separated labels of letters, digits, `-` (not at either end) and `_`, as the URL parser leaves them. */
const dnsName = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

/** The host of an entry as the URL parser spells it, or why it is not a host. */
function normalizeHost(text: string): { host: string } | { problem: string } {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  let url: URL;
  try {
    url = new URL(`http://${isIP(bare) === 6 ? `[${bare}]` : text}/`);
  } catch {
    return { problem: 'is not a host name' };
  }
  if (url.port !== '' || url.username !== '' || url.password !== '' || url.pathname !== '/' || url.search || url.hash) {
    return { problem: 'must be a host name alone (no scheme, port, path or query)' };
  }
  if (!url.hostname.startsWith('[') && !dnsName.test(url.hostname)) return { problem: 'is not a host name' };
  return { host: url.hostname };
}

/** An entry of a result-host list as it is compared, or why it is not one. */
function resultHostEntry(text: string): { host: string } | { problem: string } {
  const wildcard = text.startsWith('*.');
  const normalized = normalizeHost(wildcard ? text.slice(2) : text);
  if ('problem' in normalized) return normalized;
  const { host } = normalized;
  if (metadataHostNames.has(host)) return { problem: 'is a cloud metadata host' };
  if (!wildcard) return { host };
  if (host.startsWith('[') || isIP(host) !== 0) return { problem: 'is a wildcard of an IP address (only domain names take one)' };
  if (!host.includes('.')) return { problem: 'is a wildcard of a top-level domain (write at least *.example.com)' };
  if ([...metadataHostNames].some((name) => name.endsWith(`.${host}`))) return { problem: 'covers a cloud metadata host' };
  return { host: `*.${host}` };
}

/** One entry of a result-host list, validated and normalized (see the file comment). */
export const resultHostSchema = z
  .string()
  .trim()
  .transform((text, ctx) => {
    const entry = resultHostEntry(text);
    if ('problem' in entry) {
      ctx.issues.push({ code: 'custom', message: `"${text}" ${entry.problem}`, input: text });
      return z.NEVER;
    }
    return entry.host;
  });

/** A result-host list: at least one entry. */
export const resultHostsSchema = z.array(resultHostSchema).min(1);

/** Whether a URL's host is on the list; `hostname` is `URL.hostname` (IPv6 in brackets). */
export function hostAllowed(hosts: readonly string[], hostname: string): boolean {
  return hosts.some((entry) => (entry.startsWith('*.') ? hostname.endsWith(entry.slice(1)) : hostname === entry));
}
