/**
 * Benchmark of what an unauthenticated webhook costs the receiver: a 256 KiB POST with no valid
 * signature, through the real route (Fastify inject, so no network noise), for a connection with
 * one pinned secret and for one with `signatureScheme: auto` and ten secrets. Each case is shown
 * next to the baseline of the same run: the same POST to an unknown connection (404), which reads
 * the body and checks nothing. "extra" is the case minus the baseline: the signature check.
 *
 * Figures are CPU time of this process (user + system) per request, which other processes on a
 * shared machine do not inflate the way they inflate wall time. The cases run interleaved, in a new
 * random order each round, and each figure is the median over the rounds, so neither a slow moment
 * nor the garbage the case before left behind lands on one case only.
 *
 *   node bench/webhook-signature.ts [--rounds 40] [--per-round 20]
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { parseConnections } from '../src/config/connections.ts';
import { createRecipeRegistry } from '../src/providers/index.ts';
import { buildReceiver } from '../src/receiver/build-receiver.ts';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '40' }, 'per-round': { type: 'string', default: '20' } },
});
const rounds = Number(values.rounds);
const perRound = Number(values['per-round']);

const secret = () => randomBytes(32).toString('base64');
const studio = (id: string, secrets: string[], signatureScheme: string) => ({
  id,
  name: id,
  creativeForce: { clientId: 'c', clientSecret: 's', webhookSecrets: secrets, signatureScheme },
  subfunctions: { '54': { recipe: 'convert', options: {} } },
});
const connections = parseConnections(
  {
    connections: [
      studio('pinned', [secret()], 'b64key-sha256-base64'),
      studio('auto10', Array.from({ length: 10 }, secret), 'auto'),
    ],
  },
  createRecipeRegistry(),
  {},
);
const app = buildReceiver({
  logger: pino({ level: 'silent' }),
  isReady: async () => true,
  webhooks: {
    connections: new Map(connections.map((c) => [c.id, c])),
    enqueue: () => Promise.reject(new Error('the benchmark sends no valid signature')),
  },
});

// 256 KiB of JSON, just under the route's body limit.
const body = Buffer.from(JSON.stringify({ Action: 'ReadyToWork', Padding: 'x'.repeat(256 * 1024 - 64) }));
/** A signature of the right length (base64 of 32 bytes) that matches no secret. */
const wrongSignature = randomBytes(32).toString('base64');

interface Case {
  name: string;
  connectionId: string;
  signature: string | undefined;
  status: number;
}

const baseline: Case = { name: 'baseline: unknown connection (404)', connectionId: 'nobody', signature: undefined, status: 404 };
const cases: Case[] = [
  baseline,
  { name: 'pinned, 1 secret: no header', connectionId: 'pinned', signature: undefined, status: 401 },
  { name: 'pinned, 1 secret: header "x"', connectionId: 'pinned', signature: 'x', status: 401 },
  { name: 'pinned, 1 secret: wrong signature', connectionId: 'pinned', signature: wrongSignature, status: 401 },
  { name: 'auto, 10 secrets: no header', connectionId: 'auto10', signature: undefined, status: 401 },
  { name: 'auto, 10 secrets: header "x"', connectionId: 'auto10', signature: 'x', status: 401 },
  { name: 'auto, 10 secrets: wrong signature', connectionId: 'auto10', signature: wrongSignature, status: 401 },
];

/** CPU microseconds per request of one batch of `perRound` requests. */
async function batch(c: Case): Promise<number> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (c.signature !== undefined) headers['x-cf-signature'] = c.signature;
  const started = process.cpuUsage();
  for (let i = 0; i < perRound; i++) {
    const res = await app.inject({ method: 'POST', url: `/webhooks/creative-force/${c.connectionId}`, headers, payload: body });
    if (res.statusCode !== c.status) throw new Error(`${c.name}: expected ${c.status}, got ${res.statusCode}`);
  }
  const used = process.cpuUsage(started);
  return (used.user + used.system) / perRound;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

await app.ready();
for (const c of cases) await batch(c); // warm-up
const samples = new Map<Case, number[]>(cases.map((c) => [c, []]));
for (let round = 0; round < rounds; round++) {
  const order = cases.map((c) => ({ c, key: Math.random() })).sort((a, b) => a.key - b.key);
  for (const { c } of order) samples.get(c)?.push(await batch(c));
}
await app.close();

const base = median(samples.get(baseline) ?? []);
const width = Math.max(...cases.map((c) => c.name.length));
console.log(`256 KiB POST, median of ${rounds} rounds x ${perRound} requests (CPU µs per request)\n`);
console.log(`${'case'.padEnd(width)}  ${'µs'.padStart(8)}  ${'baseline'.padStart(8)}  ${'extra'.padStart(8)}`);
for (const c of cases) {
  const us = median(samples.get(c) ?? []);
  const extra = c === baseline ? '' : (us - base).toFixed(0);
  console.log(`${c.name.padEnd(width)}  ${us.toFixed(0).padStart(8)}  ${base.toFixed(0).padStart(8)}  ${extra.padStart(8)}`);
}
