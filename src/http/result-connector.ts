/**
 * The connect step of the undici Agent provider results are downloaded through: before a socket
 * connects, every address it could use is checked against refused-addresses.ts. An IP literal is
 * checked as it is; a host name is resolved, refused addresses are dropped, and a name left with
 * none fails the connection. The check is on the address the socket then connects to, not a
 * lookup made beforehand, so a name that answers DNS differently the second time (rebinding)
 * gains nothing. Redirects are not followed (undici's default), so no hop escapes the check or
 * the host allow-list.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { type AddressOptions, type AddressRule, addressRefusal } from './refused-addresses.ts';

/** A connection refused because of the addresses its host name or IP literal stands for. */
export class ResultAddressRefusedError extends Error {
  readonly code = 'ERR_RESULT_ADDRESS_REFUSED';
  readonly hostname: string;
  /** The refused addresses. */
  readonly addresses: readonly string[];
  /** Why the first one is refused, e.g. `loopback`. */
  readonly rule: AddressRule;

  constructor(hostname: string, addresses: readonly string[], rule: AddressRule) {
    super(`${hostname} stands only for refused addresses (${addresses.join(', ')}: ${rule})`);
    this.name = 'ResultAddressRefusedError';
    this.hostname = hostname;
    this.addresses = addresses;
    this.rule = rule;
  }
}

/** Resolves a host name to all its addresses (node:dns `lookup` with `all: true`). */
export type Resolver = (
  hostname: string,
  options: LookupAllOptions,
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/** How the connector judges addresses, and resolves names (DNS by default). */
export interface ResultConnectorOptions extends AddressOptions {
  resolve?: Resolver;
}

/** A `lookup` for net/tls.connect that gives only the addresses allowed. */
export function guardedLookup(options: ResultConnectorOptions): LookupFunction {
  const resolve = options.resolve ?? dnsLookup;
  return (hostname, lookupOptions, callback) => {
    resolve(hostname, { ...lookupOptions, all: true }, (err, addresses) => {
      if (err) {
        callback(err, []);
        return;
      }
      const rules = addresses.map((a) => addressRefusal(a.address, options));
      const allowed = addresses.filter((_, i) => rules[i] === undefined);
      const [first] = allowed;
      if (first === undefined) {
        const refused = addresses.map((a) => a.address);
        callback(new ResultAddressRefusedError(hostname, refused, rules[0] ?? 'no address'), []);
        return;
      }
      if (lookupOptions.all) callback(null, allowed);
      else callback(null, first.address, first.family);
    });
  };
}

/** The connect function of the result Agent: IP literals checked here, names by guardedLookup. */
export function resultConnector(options: ResultConnectorOptions): buildConnector.connector {
  const connect = buildConnector({ lookup: guardedLookup(options) });
  return (connectOptions, callback) => {
    const { hostname } = connectOptions;
    if (isIP(hostname) !== 0) {
      const rule = addressRefusal(hostname, options);
      if (rule !== undefined) {
        callback(new ResultAddressRefusedError(hostname, [hostname], rule), null);
        return;
      }
    }
    connect(connectOptions, callback);
  };
}

/** An Agent whose connections reach only allowed addresses (see the file comment). */
export function createResultAgent(options: ResultConnectorOptions): Agent {
  return new Agent({ keepAliveTimeout: 30_000, connect: resultConnector(options) });
}
