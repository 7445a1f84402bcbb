/**
 * A fuzzer for the webhook receiver: mutated bodies, headers, ids, signatures, sizes and request
 * lines, sent as raw bytes over TCP (a real HTTP client would refuse to send most of them) to a
 * running receiver. Each request is generated from a seed, so a failure is reproduced by its
 * seed and index. Its verdicts: every answer is one the documentation lists for what was sent
 * (docs/errors.md, "Webhook answers"), no 5xx at all (Redis is up), the receiver never drops a
 * connection without an answer, and the jobs in the queue are exactly those of the requests that
 * were answered 202.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { connect } from 'node:net';

export interface FuzzTarget {
  port: number;
  /** The connection id of the webhook URL, and its webhook secret (Base64). */
  connectionId: string;
  secret: string;
  /** The subfunction and step the connection maps to a recipe. */
  subfunctionId: number;
  stepId: number;
}

export interface FuzzOptions {
  count: number;
  seed: number;
  /** Requests in flight at once. */
  concurrency?: number;
  /** Called with each unexpected answer (for a live report). */
  onUnexpected?(finding: Finding): void;
}

/** What a request was meant to test, and the answers the documentation allows for it. */
interface Case {
  kind: string;
  bytes: Buffer;
  expected: readonly number[];
}

export interface Finding {
  index: number;
  kind: string;
  status: number | null;
  expected: readonly number[];
  answer: string;
}

export interface FuzzReport {
  requests: number;
  /** Answers by status (`none`: the connection ended without one). */
  statuses: Record<string, number>;
  /** Requests by kind. */
  kinds: Record<string, number>;
  unexpected: Finding[];
  /** Job ids answered 202 (first time, not duplicate). */
  accepted: Set<string>;
  durationMs: number;
}

/** mulberry32: small, fast, seeded. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = ReturnType<typeof prng>;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const int = (random: Random, max: number) => Math.floor(random() * max);

function sign(body: Buffer, secret: string): string {
  return createHmac('sha256', Buffer.from(secret, 'base64')).update(body).digest('base64');
}

/** A raw HTTP/1.1 request. `contentLength: false` leaves the header out. */
function request(options: {
  method?: string;
  path: string;
  headers?: [string, string][];
  body?: Buffer;
  contentLength?: boolean;
}): Buffer {
  const body = options.body ?? Buffer.alloc(0);
  const headers: [string, string][] = [['host', '127.0.0.1'], ['connection', 'close'], ...(options.headers ?? [])];
  if (options.contentLength !== false && options.body !== undefined) headers.push(['content-length', String(body.length)]);
  const head = `${options.method ?? 'POST'} ${options.path} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** Strings that have broken parsers and paths before. */
const nasty = [
  '',
  ' ',
  '..',
  '.',
  'a:b',
  '../../etc/passwd',
  '%2e%2e',
  '%00',
  '\u0000',
  'null',
  '{}',
  '[]',
  '"',
  "'",
  '\\',
  '<script>',
  '\u202e',
  '😀',
  'x'.repeat(300),
  'x'.repeat(70_000),
  '-1',
  '1e309',
  '0x10',
  'ee55d091-e7ca-4c5e-a38d-2e1ac7706a88:x',
  'EE55D091-E7CA-4C5E-A38D-2E1AC7706A88',
  '{ee55d091-e7ca-4c5e-a38d-2e1ac7706a88}',
];
const nastyValues: readonly unknown[] = [...nasty, null, true, false, 0, -1, 1.5, 2 ** 53, [], {}, { $gt: '' }, ['a']];

/** A ReadyToWork payload as Creative Force sends it (the guide's example's fields). */
function payload(target: FuzzTarget, taskProcessId: string): Record<string, unknown> {
  return {
    Action: 'ReadyToWork',
    TaskId: randomUUID(),
    TaskProcessId: taskProcessId,
    SubfunctionId: target.subfunctionId,
    SubFunctionName: 'Fuzz',
    JobId: randomUUID(),
    JobCode: 'JOB-1',
    ClientId: randomUUID(),
    ClientName: 'Studio',
    ProductId: randomUUID(),
    ProductCode: 'P-1',
    StepId: String(target.stepId),
    StepName: 'Cloud Automation',
    StepStatusId: '2000',
    StepStatusName: 'Ready To Work',
    ShootingTypeId: '1',
    ShootingTypeName: 'AI On Model',
    StyleGuideId: randomUUID(),
    StyleGuideName: 'Apparel',
  };
}

/** One request of the run: its kind, its bytes, the answers the documentation allows. */
function makeCase(target: FuzzTarget, random: Random, recent: string[]): Case {
  const path = `/webhooks/creative-force/${target.connectionId}`;
  // Some requests repeat an earlier task process: duplicates must stay harmless.
  const taskProcessId = recent.length > 0 && random() < 0.15 ? pick(random, recent) : randomUUID();
  const event = payload(target, taskProcessId);
  const signed = (body: Buffer, extra: [string, string][] = []): [string, string][] => [
    ['content-type', 'application/json'],
    ['x-cf-signature', sign(body, target.secret)],
    ...extra,
  ];
  const roll = random();

  if (roll < 0.12) {
    recent.push(taskProcessId);
    const body = Buffer.from(JSON.stringify(event));
    return { kind: 'valid', bytes: request({ path, headers: signed(body), body }), expected: [202] };
  }
  if (roll < 0.18) {
    const ignored = pick(random, [
      { Action: 'Cancelled' },
      { StepId: 999 },
      { SubfunctionId: target.subfunctionId + 1000 },
    ] as Record<string, unknown>[]);
    const body = Buffer.from(JSON.stringify({ ...event, ...ignored }));
    return { kind: 'ignored', bytes: request({ path, headers: signed(body), body }), expected: [200] };
  }
  if (roll < 0.42) {
    // One field replaced, removed or added, then signed: a signed event with a bad value.
    const mutated: Record<string, unknown> = { ...event };
    const field = pick(random, [...Object.keys(event), 'Extra', '__proto__', 'constructor']);
    const action = random();
    if (action < 0.2) delete mutated[field];
    else mutated[field] = pick(random, nastyValues);
    const body = Buffer.from(JSON.stringify(mutated));
    return { kind: 'field', bytes: request({ path, headers: signed(body), body }), expected: [200, 202, 400] };
  }
  if (roll < 0.54) {
    // Bytes of the body flipped, cut or inserted, then signed.
    const body = Buffer.from(JSON.stringify(event));
    const at = int(random, body.length);
    const variant = random();
    let bytes: Buffer;
    if (variant < 0.33) bytes = body.subarray(0, at);
    else if (variant < 0.66) {
      bytes = Buffer.from(body);
      bytes[at] = int(random, 256);
    } else bytes = Buffer.concat([body.subarray(0, at), Buffer.from(pick(random, nasty).slice(0, 64)), body.subarray(at)]);
    return { kind: 'bytes', bytes: request({ path, headers: signed(bytes), body: bytes }), expected: [200, 202, 400] };
  }
  if (roll < 0.7) {
    const body = Buffer.from(JSON.stringify(event));
    const good = sign(body, target.secret);
    const header = pick(random, [
      () => null,
      () => '',
      () => 'x',
      () => good.slice(0, -2),
      () => `${good}=`,
      () => good.toLowerCase(),
      () => Buffer.from(good, 'base64').toString('hex'),
      () => sign(Buffer.concat([body, Buffer.from(' ')]), target.secret),
      () => sign(body, Buffer.from('another secret of 32 bytes.....').toString('base64')),
      () => 'A'.repeat(int(random, 200)),
      () => `${good}, ${good}`,
    ])();
    const headers: [string, string][] = [['content-type', 'application/json']];
    if (header !== null) headers.push(['x-cf-signature', header]);
    return { kind: 'signature', bytes: request({ path, headers, body }), expected: [401] };
  }
  if (roll < 0.78) {
    const body = Buffer.from(JSON.stringify(event));
    const variant = pick(random, [
      { id: randomUUID(), expected: [404] },
      { id: target.connectionId.toUpperCase(), expected: [404] },
      { id: `${target.connectionId}%zz`, expected: [400] },
      { id: '%', expected: [400] },
      { id: 'x'.repeat(101 + int(random, 2000)), expected: [414] },
      { id: `${target.connectionId}/extra`, expected: [404] },
      { id: '', expected: [404] },
      { id: encodeURIComponent('😀'), expected: [404] },
    ]);
    const bytes = request({ path: `/webhooks/creative-force/${variant.id}`, headers: signed(body), body });
    return { kind: 'connection', bytes, expected: variant.expected };
  }
  if (roll < 0.84) {
    const big = Buffer.alloc(256 * 1024 + 1 + int(random, 64 * 1024), 0x20);
    return { kind: 'size', bytes: request({ path, headers: signed(big), body: big }), expected: [413] };
  }
  if (roll < 0.88) {
    const body = Buffer.from(JSON.stringify(event));
    const huge: [string, string] = ['x-padding', 'p'.repeat(17 * 1024 + int(random, 8 * 1024))];
    return { kind: 'headers', bytes: request({ path, headers: signed(body, [huge]), body }), expected: [431] };
  }
  if (roll < 0.94) {
    const body = Buffer.from(JSON.stringify(event));
    const method = pick(random, ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);
    const where = pick(random, [path, '/webhooks/creative-force', '/webhooks', '/', '/admin', `${path}/x`]);
    const expected = where === path && method !== 'GET' ? [404] : [404];
    return { kind: 'route', bytes: request({ method, path: where, headers: signed(body), body }), expected };
  }
  // Content types and framing: the signature is checked on the raw bytes whatever the type says.
  recent.push(taskProcessId);
  const body = Buffer.from(JSON.stringify(event));
  const type = pick(random, [
    'text/plain',
    'application/octet-stream',
    'application/json; charset=utf-8',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    '',
  ]);
  // A content type that is no media type at all may be refused before the route (415); any real
  // one is read as raw bytes and judged by the signature.
  const malformed = random() < 0.25 ? pick(random, [';', '/', 'json', 'application/', ' ; charset=utf-8', 'a/b/c']) : null;
  const chunked = random() < 0.3;
  const headers: [string, string][] = [['x-cf-signature', sign(body, target.secret)]];
  if (malformed !== null) headers.push(['content-type', malformed]);
  else if (type) headers.push(['content-type', type]);
  if (chunked) headers.push(['transfer-encoding', 'chunked']);
  const framed = chunked
    ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')])
    : body;
  const expected = malformed === null ? [202] : [202, 415];
  return { kind: 'framing', bytes: request({ path, headers, body: framed, contentLength: !chunked }), expected };
}

interface Answer {
  status: number | null;
  text: string;
}

/** Sends raw bytes; resolves with the status line's code and the answer (null: no answer). */
function send(port: number, bytes: Buffer, timeoutMs = 10_000): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: match ? Number(match[1]) : null, text });
      socket.destroy();
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', done);
    socket.on('close', done);
    // No half-close: the request says `connection: close`, so the server closes after answering
    // (it may answer 413 or 431, and close, before it has read the whole request).
    socket.write(bytes);
  });
}

/** The JSON body of an answer, if it has one. */
function bodyOf(text: string): unknown {
  const at = text.indexOf('\r\n\r\n');
  try {
    return JSON.parse(text.slice(at + 4));
  } catch {
    return undefined;
  }
}

export async function fuzzReceiver(target: FuzzTarget, options: FuzzOptions): Promise<FuzzReport> {
  const random = prng(options.seed);
  const recent: string[] = [];
  const report: FuzzReport = { requests: 0, statuses: {}, kinds: {}, unexpected: [], accepted: new Set(), durationMs: 0 };
  const started = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < options.count) {
      const index = next++;
      const testCase = makeCase(target, random, recent);
      if (recent.length > 50) recent.shift();
      const answer = await send(target.port, testCase.bytes);
      report.requests += 1;
      report.kinds[testCase.kind] = (report.kinds[testCase.kind] ?? 0) + 1;
      const key = answer.status === null ? 'none' : String(answer.status);
      report.statuses[key] = (report.statuses[key] ?? 0) + 1;
      if (answer.status === 202) {
        const body = bodyOf(answer.text) as { jobId?: unknown; duplicate?: unknown } | undefined;
        if (typeof body?.jobId === 'string' && body.duplicate === false) report.accepted.add(body.jobId);
      }
      if (answer.status === null || !testCase.expected.includes(answer.status)) {
        const finding = {
          index,
          kind: testCase.kind,
          status: answer.status,
          expected: testCase.expected,
          answer: answer.text.slice(0, 400),
        };
        report.unexpected.push(finding);
        options.onUnexpected?.(finding);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  report.durationMs = Date.now() - started;
  return report;
}
