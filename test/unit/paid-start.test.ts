import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConnectorError } from '../../src/errors.ts';
import { type LostStart, type StartIntent, type StartLookup, startPaidWork } from '../../src/providers/paid-start.ts';
import type { RecipeMemory } from '../../src/providers/recipe.ts';

/** A recipe memory over a Map, as the job keeps it; `saves` lists what each set() saved, in order. */
function jobMemory() {
  const values = new Map<string, unknown>();
  const saves: [string, unknown][] = [];
  const memory: RecipeMemory = {
    get: <T>(key: string) => values.get(key) as T | undefined,
    set: async (key, value) => {
      values.set(key, structuredClone(value));
      saves.push([key, structuredClone(value)]);
    },
  };
  return { memory, values, saves };
}

/** A provider lookup whose listing answers `answers` in turn (the last repeats). */
function lookup(answers: LostStart<string>[], relookPausesMs: readonly number[] = [0, 0]) {
  const seen: StartIntent<{ input: string }>[] = [];
  const spec: StartLookup<{ input: string }, string> = {
    provider: 'adcreative',
    fingerprintSchema: z.object({ input: z.string() }),
    fingerprint: async () => ({ input: 'front.jpg' }),
    clockSkewMs: 5_000,
    find: async (intent) => {
      seen.push(intent);
      return answers[Math.min(seen.length, answers.length) - 1] ?? { found: 'none' };
    },
    relookPausesMs,
  };
  return { spec, seen };
}

const logger = pino({ level: 'silent' });
const signal = new AbortController().signal;

function paidStart(job: ReturnType<typeof jobMemory>, look: StartLookup<{ input: string }, string>, started: string[]) {
  return startPaidWork(
    { memory: job.memory, logger, signal, paidWork: async () => {} },
    {
      intentKey: 'job:intent',
      what: 'AdCreative.ai photoshoot',
      facts: { mappingKeyId: 'A' },
      lookup: look,
      start: async () => {
        // The intent is saved before the call goes out.
        expect(job.values.get('job:intent')).toMatchObject({ fingerprint: { input: 'front.jpg' } });
        const id = `process-${started.length + 1}`;
        started.push(id);
        return id;
      },
      record: (id) => job.memory.set('job', id),
      idOf: (id) => id,
    },
  );
}

describe('startPaidWork: a paid start made once, even when its answer is lost', () => {
  it('records an intent before the call, the id after it, then drops the intent', async () => {
    const job = jobMemory();
    const started: string[] = [];
    const before = Date.now();
    expect(await paidStart(job, lookup([]).spec, started)).toBe('process-1');
    const [intent, id, cleared] = job.saves;
    expect(intent?.[0]).toBe('job:intent');
    const saved = intent?.[1] as StartIntent<{ input: string }>;
    expect(saved.at).toBeGreaterThanOrEqual(before);
    expect(saved.notBefore).toBe(saved.at - 5_000);
    expect(saved.token).toMatch(/^[0-9a-f-]{36}$/);
    expect([id, cleared]).toEqual([
      ['job', 'process-1'],
      ['job:intent', null],
    ]);
  });

  it('adopts what a lost answer started, without calling again', async () => {
    const job = jobMemory();
    const intent = { at: Date.now() - 10_000, notBefore: Date.now() - 15_000, token: 't-1', fingerprint: { input: 'front.jpg' } };
    await job.memory.set('job:intent', intent);
    const { spec, seen } = lookup([{ found: 'one', start: 'process-9' }]);
    const started: string[] = [];
    expect(await paidStart(job, spec, started)).toBe('process-9');
    expect(started).toEqual([]);
    expect(seen).toEqual([intent]);
    expect(job.values.get('job')).toBe('process-9');
    expect(job.values.get('job:intent')).toBeNull();
  });

  it('starts again under a new intent when the provider shows nothing of the lost start', async () => {
    const job = jobMemory();
    await job.memory.set('job:intent', { at: 1, notBefore: 0, token: 't-1', fingerprint: { input: 'front.jpg' } });
    const started: string[] = [];
    expect(await paidStart(job, lookup([{ found: 'none' }]).spec, started)).toBe('process-1');
    const intents = job.saves.filter(([key, value]) => key === 'job:intent' && value !== null);
    expect(intents.map(([, value]) => (value as { token: string }).token)).toEqual(['t-1', expect.not.stringMatching(/^t-1$/)]);
  });

  it('looks again while it cannot tell, and adopts once the others have claimed theirs', async () => {
    const job = jobMemory();
    await job.memory.set('job:intent', { at: 1, notBefore: 0, token: 't-1', fingerprint: { input: 'front.jpg' } });
    const { spec, seen } = lookup([
      { found: 'several', ids: ['p-1', 'p-2'] },
      { found: 'one', start: 'p-2' },
    ]);
    expect(await paidStart(job, spec, [])).toBe('p-2');
    expect(seen).toHaveLength(2);
  });

  it('fails with PROVIDER_START_AMBIGUOUS, not retried, when it still cannot tell; nothing is started', async () => {
    const job = jobMemory();
    await job.memory.set('job:intent', { at: 1, notBefore: 0, token: 't-1', fingerprint: { input: 'front.jpg' } });
    const { spec, seen } = lookup([{ found: 'several', ids: ['p-1', 'p-2'] }]);
    const started: string[] = [];
    const err = await paidStart(job, spec, started).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err).toMatchObject({ code: 'PROVIDER_START_AMBIGUOUS', retryable: false, details: { candidates: ['p-1', 'p-2'] } });
    expect((err as Error).message).toMatch(/lists 2 candidates .*\(p-1, p-2\).*none is started again/);
    expect(seen).toHaveLength(3);
    expect(started).toEqual([]);
  });

  it('refuses a saved intent of the wrong shape (CHECKPOINT_INVALID)', async () => {
    const job = jobMemory();
    await job.memory.set('job:intent', { at: 'yesterday', token: 't-1', fingerprint: {} });
    await expect(paidStart(job, lookup([]).spec, [])).rejects.toMatchObject({ code: 'CHECKPOINT_INVALID' });
  });
});
