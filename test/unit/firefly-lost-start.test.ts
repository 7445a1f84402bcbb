import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fireflyLostStart, fireflyMayHold, fireflyRunDigest } from '../../src/providers/firefly/lost-start.ts';
import { executionSchema, type FireflyListedBatch } from '../../src/providers/firefly/schemas.ts';

const workflowId = '2402b5a2-bd2b-4309-a4a4-d7983bba64e9';
const t0 = Date.parse('2026-04-03T23:46:39.374Z');

/** A presigned S3 URL as Creative Force hands out: each one signed afresh. */
const presigned = (key: string) => `https://cf-bucket.s3.amazonaws.com/${key}?X-Amz-Signature=${randomBytes(8).toString('hex')}`;
const run = (url: string, text = 'SKU-1') => [
  { node_id: 'node_in', content: [{ presignedUrl: url, storageType: 'AWS' }] },
  { node_id: 'node_text', content: text },
];

function batch(id: string, over: Partial<FireflyListedBatch> = {}): FireflyListedBatch {
  return {
    batchId: id,
    workflowId: `run-workflow_${workflowId}`,
    createdAt: t0 + 1_000,
    assets: { total: 0, pending: 0, processing: 0, completed: 0, failed: 0 },
    ...over,
  };
}

/** The executions of a batch, its runs' inputs echoed as sent. */
function executions(batchId: string, runs: unknown[][]) {
  return runs.map((inputs, assetIndex) =>
    executionSchema.parse({
      executionId: `${batchId}_exec-${assetIndex}`,
      batchId,
      assetIndex,
      inputAsset: { index: assetIndex, assetId: `asset-${assetIndex}`, inputs },
      status: 'pending',
      error: null,
      outputs: [],
    }),
  );
}

describe('fireflyRunDigest', () => {
  it('is the same whatever the order of nodes and keys, and ignores what else a reference carries', () => {
    const url = presigned('front.jpg');
    const reordered = [
      { content: 'SKU-1', node_id: 'node_text' },
      { node_id: 'node_in', content: [{ storageType: 'S3', name: 'front.jpg', presignedUrl: url }] },
    ];
    expect(fireflyRunDigest(reordered)).toBe(fireflyRunDigest(run(url)));
    expect(fireflyRunDigest(run(url, 'SKU-2'))).not.toBe(fireflyRunDigest(run(url)));
    expect(fireflyRunDigest(run(presigned('front.jpg')))).not.toBe(fireflyRunDigest(run(url)));
  });

  it('is null for inputs of another shape', () => {
    expect(fireflyRunDigest([{ content: 'x' }])).toBeNull();
    expect(fireflyRunDigest([{ node_id: 'n', content: [{ url: 'x' }] }])).toBeNull();
    expect(fireflyRunDigest(['node_in'])).toBeNull();
  });
});

describe('fireflyLostStart: the batch, and the run indexes, a lost start put the runs in', () => {
  const mine = [run(presigned('a.jpg')), run(presigned('b.jpg'))];
  const fingerprint = { workflowId, runs: mine.map((r) => fireflyRunDigest(r) ?? '') };
  const other = (n: number) => Array.from({ length: n }, (_, i) => run(presigned(`other-${i}.jpg`)));

  it("finds the task's runs one after the other in a batch it shares with other tasks", () => {
    const shared = [...other(2), ...mine, ...other(1)];
    const candidates = [
      { batch: batch('b-1', { assets: { ...batch('').assets, total: 5 } }), executions: executions('b-1', shared) },
    ];
    expect(fireflyLostStart(fingerprint, candidates)).toEqual({
      found: 'one',
      start: { batchId: 'b-1', runIndexes: [2, 3], totalRuns: 5 },
    });
  });

  it('finds none in batches of other runs, or with the runs apart or only in part', () => {
    const [first, second] = mine;
    const apart = [first ?? [], ...other(1), second ?? []];
    const candidates = [
      { batch: batch('b-1'), executions: executions('b-1', other(3)) },
      { batch: batch('b-2'), executions: executions('b-2', apart) },
      { batch: batch('b-3'), executions: executions('b-3', [first ?? []]) },
    ];
    expect(fireflyLostStart(fingerprint, candidates)).toEqual({ found: 'none' });
  });

  it('cannot tell when a batch does not show its inputs, or when the runs are in two places', () => {
    const blind = executions('b-2', other(2)).map((e) => ({ ...e, inputs: null }));
    expect(
      fireflyLostStart(fingerprint, [
        { batch: batch('b-1'), executions: executions('b-1', mine) },
        { batch: batch('b-2'), executions: blind },
      ]),
    ).toEqual({ found: 'several', ids: ['b-1', 'b-2'] });
    expect(
      fireflyLostStart(fingerprint, [
        { batch: batch('b-1'), executions: executions('b-1', mine) },
        { batch: batch('b-3'), executions: executions('b-3', mine) },
      ]),
    ).toEqual({ found: 'several', ids: ['b-1', 'b-3'] });
    const listedOnly = batch('b-4', { assets: { ...batch('').assets, total: 2, pending: 2 } });
    expect(fireflyLostStart(fingerprint, [{ batch: listedOnly, executions: [] }])).toEqual({ found: 'several', ids: ['b-4'] });
  });

  it('looks only at batches of the workflow (either form of its id) created since the intent', () => {
    const notBefore = t0 - 60_000;
    expect(fireflyMayHold(fingerprint, notBefore, batch('b'))).toBe(true);
    expect(fireflyMayHold(fingerprint, notBefore, batch('b', { workflowId: workflowId.toUpperCase() }))).toBe(true);
    expect(fireflyMayHold(fingerprint, notBefore, batch('b', { workflowId: 'run-workflow_another' }))).toBe(false);
    expect(fireflyMayHold(fingerprint, notBefore, batch('b', { createdAt: notBefore - 1 }))).toBe(false);
    expect(fireflyMayHold(fingerprint, notBefore, batch('b', { createdAt: null, workflowId: null }))).toBe(true);
  });
});
