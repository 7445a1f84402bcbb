/**
 * downloadResult (every provider's result download) against real loopback servers: the host
 * allow-list, the address check at connect time (IP literals, names after DNS, with a resolver
 * standing in for DNS where a test needs a name to resolve to a given address), redirects, the
 * size cap while streaming, and the deadline.
 */
import type { LookupAddress } from 'node:dns';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Dispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { downloadResult, type ResultDownloadRules } from '../../src/http/provider-request.ts';
import { createResultAgent, type Resolver } from '../../src/http/result-connector.ts';
import { sartiqErrors } from '../../src/providers/sartiq/errors.ts';
import { failure } from '../helpers/failure.ts';

/** A loopback server that counts the connections and requests it gets. */
class CountingServer {
  connections = 0;
  readonly paths: string[] = [];
  origin = '';
  port = 0;
  handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end('image bytes');
  readonly #server: Server = createServer((req, res) => {
    this.paths.push(req.url ?? '');
    this.handler(req, res);
  }).on('connection', () => {
    this.connections += 1;
  });

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as AddressInfo).port;
    this.origin = `http://127.0.0.1:${this.port}`;
  }

  reset(): void {
    this.connections = 0;
    this.paths.length = 0;
    this.handler = (_req, res) => res.end('image bytes');
    this.#server.closeAllConnections();
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

const cdn = new CountingServer();
const internal = new CountingServer();
const agents: Dispatcher[] = [];
let dir: string;

/** The rules of a test: its hosts, a cap, and an Agent of its own (closed after the test). */
function rules(hosts: string[], options: { allowLoopback?: boolean; maxBytes?: number; resolve?: Resolver } = {}) {
  const dispatcher = createResultAgent({ allowLoopback: options.allowLoopback ?? false, resolve: options.resolve });
  agents.push(dispatcher);
  return { hosts, maxBytes: options.maxBytes ?? 1024 * 1024, dispatcher } satisfies ResultDownloadRules;
}

/** A resolver that answers every name with `addresses`, and counts its calls. */
function resolverOf(...answers: LookupAddress[][]): Resolver & { calls: number } {
  const resolve = (_hostname: string, _options: unknown, callback: (err: null, addresses: LookupAddress[]) => void) => {
    const addresses = answers[Math.min(resolve.calls, answers.length - 1)] ?? [];
    resolve.calls += 1;
    process.nextTick(() => callback(null, addresses));
  };
  resolve.calls = 0;
  return resolve;
}

function download(url: string, downloadRules: ResultDownloadRules, timeoutMs = 5_000) {
  return downloadResult({
    url,
    destPath: join(dir, 'result.png'),
    rules: downloadRules,
    timeoutMs,
    signal: undefined,
    errors: sartiqErrors,
    logger: pino({ level: 'silent' }),
    typesByExtension: { '.png': 'image/png' },
  });
}

/** A presigned-looking query: never in a message. */
const query = '?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=5ecre7';

beforeAll(async () => {
  await Promise.all([cdn.start(), internal.start()]);
});

beforeEach(async () => {
  cdn.reset();
  internal.reset();
  dir = await mkdtemp(join(tmpdir(), 'cfc-result-'));
});

afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.close()));
  await rm(dir, { recursive: true, force: true });
});

afterAll(async () => {
  await Promise.all([cdn.stop(), internal.stop()]);
});

describe('provider result downloads: where from', () => {
  it('downloads from an allowed host on an allowed address', async () => {
    const result = await download(`${cdn.origin}/media/r1/file.png${query}`, rules(['127.0.0.1'], { allowLoopback: true }));
    expect(result).toMatchObject({ bytes: 11, contentType: 'image/png' });
    expect(cdn.paths).toEqual([`/media/r1/file.png${query}`]);
  });

  it('refuses a host outside the allow-list before connecting, naming the host and the rule, not the URL', async () => {
    const err = await failure(download(`${cdn.origin}/media/r1/file.png${query}`, rules(['cdn.sartiq.example'])));
    expect(err).toMatchObject({
      code: 'PROVIDER_RESULT_REFUSED',
      retryable: false,
      details: { provider: 'sartiq', host: '127.0.0.1', rule: 'host' },
    });
    expect(err.message).toBe(
      'Sartiq result not downloaded: host 127.0.0.1 is not on the allow-list of result hosts (sartiq.resultHosts)',
    );
    expect(cdn.connections).toBe(0);
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses an allowed IP literal on a loopback address at connect time: no connection is made', async () => {
    const err = await failure(download(`${cdn.origin}/media/r1/file.png${query}`, rules(['127.0.0.1'])));
    expect(err).toMatchObject({
      code: 'PROVIDER_RESULT_REFUSED',
      retryable: false,
      details: { host: '127.0.0.1', rule: 'address', addresses: ['127.0.0.1'], why: 'loopback' },
    });
    expect(err.message).toBe(
      'Sartiq result not downloaded: host 127.0.0.1 leads to a refused address (loopback); results are fetched from public addresses only',
    );
    expect(err.message).not.toContain('/media/');
    expect(cdn.connections).toBe(0);
  });

  it('checks the address a name resolves to when connecting: localhost allowed by name, loopback off', async () => {
    const err = await failure(download(`http://localhost:${cdn.port}/media/r1/file.png${query}`, rules(['localhost'])));
    expect(err).toMatchObject({
      code: 'PROVIDER_RESULT_REFUSED',
      details: { host: 'localhost', rule: 'address', why: 'loopback' },
    });
    expect(err.message).toContain('host localhost leads to a refused address (loopback)');
    expect(cdn.connections).toBe(0);
    // The same name with the test switch on connects.
    await download(`http://localhost:${cdn.port}/media/r1/file.png`, rules(['localhost'], { allowLoopback: true }));
    expect(cdn.paths).toHaveLength(1);
  });

  it.each([
    ['a private address', [{ address: '10.0.0.5', family: 4 }], 'private (RFC 1918)'],
    ['an IPv4-mapped private address', [{ address: '::ffff:10.0.0.5', family: 6 }], 'private (RFC 1918), as IPv4-mapped IPv6'],
    ['the cloud metadata address', [{ address: '169.254.169.254', family: 4 }], 'cloud metadata'],
    [
      'only refused addresses',
      [
        { address: 'fd00:ec2::254', family: 6 },
        { address: '100.64.1.1', family: 4 },
      ],
      'cloud metadata',
    ],
  ])('refuses an allowed name that resolves to %s', async (_what, addresses, why) => {
    const resolve = resolverOf(addresses);
    const err = await failure(
      download(`http://cdn.sartiq.example:${cdn.port}/media/r1/file.png`, rules(['*.sartiq.example'], { resolve })),
    );
    expect(err).toMatchObject({
      code: 'PROVIDER_RESULT_REFUSED',
      details: { host: 'cdn.sartiq.example', addresses: addresses.map((a) => a.address), why },
    });
    expect(resolve.calls).toBe(1);
  });

  it('drops the refused addresses of a name and connects to an allowed one', async () => {
    const resolve = resolverOf([
      { address: '10.0.0.5', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ]);
    const allowed = rules(['cdn.sartiq.example'], { allowLoopback: true, resolve });
    await download(`http://cdn.sartiq.example:${cdn.port}/media/r1/file.png`, allowed);
    expect(cdn.paths).toEqual(['/media/r1/file.png']);
  });

  it('checks every new connection: a name that answers differently the next time is refused then', async () => {
    cdn.handler = (_req, res) => res.setHeader('connection', 'close').end('image bytes');
    const resolve = resolverOf([{ address: '127.0.0.1', family: 4 }], [{ address: '10.0.0.5', family: 4 }]);
    const rebinding = rules(['cdn.sartiq.example'], { allowLoopback: true, resolve });
    await download(`http://cdn.sartiq.example:${cdn.port}/media/r1/file.png`, rebinding);
    const err = await failure(download(`http://cdn.sartiq.example:${cdn.port}/media/r2/file.png`, rebinding));
    expect(err).toMatchObject({ code: 'PROVIDER_RESULT_REFUSED', details: { addresses: ['10.0.0.5'] } });
    expect(resolve.calls).toBe(2);
    expect(cdn.paths).toEqual(['/media/r1/file.png']);
  });

  it('does not follow a redirect', async () => {
    cdn.handler = (_req, res) => res.writeHead(302, { location: `${internal.origin}/admin` }).end();
    const err = await failure(download(`${cdn.origin}/media/r1/file.png`, rules(['127.0.0.1'], { allowLoopback: true })));
    expect(err.details).toMatchObject({ status: 302 });
    expect(internal.connections).toBe(0);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('provider result downloads: how much, how long', () => {
  it('refuses a Content-Length over the cap before reading the body', async () => {
    cdn.handler = (_req, res) => res.end(Buffer.alloc(2001));
    const err = await failure(
      download(`${cdn.origin}/x.png${query}`, rules(['127.0.0.1'], { allowLoopback: true, maxBytes: 2000 })),
    );
    expect(err).toMatchObject({
      code: 'PROVIDER_RESULT_REFUSED',
      retryable: false,
      details: { host: '127.0.0.1', rule: 'size', maxBytes: 2000, bytes: 2001, source: 'Content-Length' },
    });
    expect(err.message).toBe(
      'Sartiq result not downloaded: the result from host 127.0.0.1 is larger than 2000 bytes (PROVIDER_RESULT_MAX_BYTES)',
    );
    expect(await readdir(dir)).toEqual([]);
  });

  it('accepts a result of exactly the cap', async () => {
    cdn.handler = (_req, res) => res.end(Buffer.alloc(2000, 1));
    const result = await download(`${cdn.origin}/x.png`, rules(['127.0.0.1'], { allowLoopback: true, maxBytes: 2000 }));
    expect(result.bytes).toBe(2000);
  });

  it('cuts a 200 MiB stream without Content-Length off as soon as it passes the cap, and removes the temp file', async () => {
    const total = 200 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 7);
    let written = 0;
    const closed = new Promise<void>((resolve) => {
      cdn.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.on('close', resolve);
        const pump = () => {
          while (written < total && !res.destroyed) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
      };
    });
    const maxBytes = 1024 * 1024;
    const started = Date.now();
    const err = await failure(download(`${cdn.origin}/big.png`, rules(['127.0.0.1'], { allowLoopback: true, maxBytes })));
    await closed;
    expect(err).toMatchObject({ code: 'PROVIDER_RESULT_REFUSED', details: { rule: 'size', source: 'received', maxBytes } });
    // Counted up to the chunk that passed the cap (socket reads may join a few of the server's writes).
    const received = Number(err.details?.bytes);
    expect(received).toBeGreaterThan(maxBytes);
    expect(received).toBeLessThanOrEqual(maxBytes + 256 * 1024);
    // The server stopped long before the end: only socket buffers were filled past the cap.
    expect(written).toBeLessThan(32 * 1024 * 1024);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await readdir(dir)).toEqual([]);
  });

  it('keeps the whole-request deadline: a result that trickles is PROVIDER_TIMEOUT, and leaves no file', async () => {
    cdn.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      const timer = setInterval(() => res.write('x'), 50);
      res.on('close', () => clearInterval(timer));
    };
    const err = await failure(download(`${cdn.origin}/slow.png`, rules(['127.0.0.1'], { allowLoopback: true }), 400));
    expect(err).toMatchObject({ code: 'PROVIDER_TIMEOUT', retryable: true });
    expect(await readdir(dir)).toEqual([]);
  });
});
