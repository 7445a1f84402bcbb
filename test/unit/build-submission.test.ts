import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ExpectedOutput } from '../../src/creative-force/schemas.ts';
import {
  alternateMinimum,
  mainMinimum,
  plannedAssets,
  planSubmission,
  planWork,
  recipeRequests,
  renderSubmitBody,
} from '../../src/cycle/build-submission.ts';
import { ConnectorError } from '../../src/errors.ts';
import type { ProducedFile } from '../../src/providers/recipe.ts';
import { detailWith, produced, reworkDetail, slot } from '../fixtures/process-detail.ts';

function tempIds(plan: ReturnType<typeof planSubmission>): Record<string, string> {
  return Object.fromEntries(plannedAssets(plan).map((a, i) => [a.uploadKey, `temp-${i}`]));
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof ConnectorError ? err.code : 'not-a-connector-error';
  }
  return undefined;
}

describe('planSubmission + renderSubmitBody', () => {
  it('fills a required slot and leaves an optional slot present with assets: []', () => {
    const detail = detailWith([
      slot({ mappingKeyId: '1_Front' }),
      slot({ mappingKeyId: '3_Detail', isRequired: false, minQuantity: 0 }),
    ]);
    const plan = planSubmission(detail, new Map([['1_Front', [produced()]]]));
    expect(renderSubmitBody(plan, tempIds(plan))).toEqual({
      submitAssets: [
        {
          mappingKeyId: '1_Front',
          assets: [
            {
              oldOutputAssetId: null,
              assetId: 'temp-0',
              outputResultTypeId: 1,
              assetAttributeId: 0,
              resourceIds: null,
              specId: null,
            },
          ],
        },
        { mappingKeyId: '3_Detail', assets: [] },
      ],
    });
  });

  it('puts the best-ranked files in the main places and the rest in alternates, within bounds', () => {
    const files = [produced(), produced(), produced(), produced(), produced(), produced()];
    const detail = detailWith([slot({ mappingKeyId: 'A', maxQuantity: 1, isAlternativeAllowed: true, maxAlternative: 3 })]);
    const plan = planSubmission(detail, new Map([['A', files]]));
    const assets = plan.slots[0]?.assets ?? [];
    expect(assets.map((a) => [a.file.fileName, a.assetAttributeId])).toEqual([
      [files[0]?.fileName, 0],
      [files[1]?.fileName, 4],
      [files[2]?.fileName, 4],
      [files[3]?.fileName, 4],
    ]);
    expect(plan.dropped).toHaveLength(2);
  });

  it('keeps a file back for required alternates rather than filling every main place', () => {
    const detail = detailWith([
      slot({ mappingKeyId: 'A', minQuantity: 1, maxQuantity: 3, isAlternativeRequired: true, minAlternative: 1 }),
    ]);
    const plan = planSubmission(detail, new Map([['A', [produced(), produced(), produced()]]]));
    expect(plan.slots[0]?.assets.map((a) => a.assetAttributeId)).toEqual([0, 0, 4]);
  });

  it('fails with SLOT_UNFILLABLE when a required slot gets too little', () => {
    const detail = detailWith([slot({ mappingKeyId: 'A', minQuantity: 2, maxQuantity: 2 })]);
    expect(() => planSubmission(detail, new Map([['A', [produced()]]]))).toThrow(/slot A: needs at least 2 photo/);
    expect(codeOf(() => planSubmission(detail, new Map()))).toBe('SLOT_UNFILLABLE');
  });

  it('fails with SLOT_UNSUPPORTED when only the wrong content type was produced', () => {
    const detail = detailWith([slot({ mappingKeyId: 'V', assetContentTypeId: 2 })]);
    expect(codeOf(() => planSubmission(detail, new Map([['V', [produced('photo')]]])))).toBe('SLOT_UNSUPPORTED');
    const both = detailWith([slot({ mappingKeyId: 'B', assetContentTypeId: 4 })]);
    expect(planSubmission(both, new Map([['B', [produced('video')]]])).slots[0]?.assets).toHaveLength(1);
  });

  it('gives every asset its own tempAssetId and refuses to reuse one', () => {
    const detail = detailWith([slot({ mappingKeyId: 'A' }), slot({ mappingKeyId: 'B' })]);
    const file = produced();
    const plan = planSubmission(
      detail,
      new Map([
        ['A', [file]],
        ['B', [file]],
      ]),
    );
    const keys = plannedAssets(plan).map((a) => a.uploadKey);
    expect(new Set(keys).size).toBe(2);
    expect(() => renderSubmitBody(plan, Object.fromEntries(keys.map((k) => [k, 'same'])))).toThrow(/used twice/);
  });
});

const slotArb: fc.Arbitrary<ExpectedOutput> = fc
  .record({
    isRequired: fc.boolean(),
    minQuantity: fc.integer({ min: 0, max: 3 }),
    maxExtra: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }),
    isAlternativeAllowed: fc.boolean(),
    isAlternativeRequired: fc.boolean(),
    minAlternative: fc.integer({ min: 0, max: 3 }),
    maxAltExtra: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }),
    assetContentTypeId: fc.constantFrom(1, 2, 4),
  })
  .chain((r) =>
    fc.uuid().map((id) =>
      slot({
        mappingKeyId: id,
        isRequired: r.isRequired,
        minQuantity: r.minQuantity,
        maxQuantity: r.maxExtra === null ? null : Math.max(r.minQuantity, r.isRequired ? 1 : 0) + r.maxExtra,
        isAlternativeAllowed: r.isAlternativeAllowed,
        isAlternativeRequired: r.isAlternativeRequired,
        minAlternative: r.minAlternative,
        maxAlternative: r.maxAltExtra === null ? null : r.minAlternative + r.maxAltExtra + (r.isAlternativeRequired ? 1 : 0),
        assetContentTypeId: r.assetContentTypeId as 1 | 2 | 4,
      }),
    ),
  );

describe('planSubmission properties', () => {
  it('either builds a body that obeys every first-pass rule or refuses with a slot reason', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(slotArb, { minLength: 1, maxLength: 4, selector: (s) => s.mappingKeyId }),
        fc.array(fc.array(fc.constantFrom<'photo' | 'video'>('photo', 'video'), { maxLength: 8 }), {
          minLength: 4,
          maxLength: 4,
        }),
        (slots, kinds) => {
          const detail = detailWith(slots);
          const producedMap = new Map<string, ProducedFile[]>(
            slots.map((s, i) => [s.mappingKeyId, (kinds[i] ?? []).map(produced)]),
          );
          let plan: ReturnType<typeof planSubmission>;
          try {
            plan = planSubmission(detail, producedMap);
          } catch (err) {
            expect(err).toBeInstanceOf(ConnectorError);
            expect(['SLOT_UNFILLABLE', 'SLOT_UNSUPPORTED']).toContain((err as ConnectorError).code);
            return;
          }
          const body = renderSubmitBody(plan, tempIds(plan));
          expect(body.submitAssets.map((s) => s.mappingKeyId)).toEqual(slots.map((s) => s.mappingKeyId));
          const allIds = body.submitAssets.flatMap((s) => s.assets.map((a) => a.assetId));
          expect(new Set(allIds).size).toBe(allIds.length);
          for (const [i, s] of slots.entries()) {
            const planned = plan.slots[i]?.assets ?? [];
            const mains = planned.filter((a) => a.assetAttributeId !== 4);
            const alts = planned.filter((a) => a.assetAttributeId === 4);
            if (planned.length === 0 && mainMinimum(s) === 0) continue;
            expect(mains.length).toBeGreaterThanOrEqual(mainMinimum(s));
            expect(mains.length).toBeLessThanOrEqual(s.maxQuantity ?? Number.POSITIVE_INFINITY);
            if (!s.isAlternativeAllowed && !s.isAlternativeRequired) expect(alts).toHaveLength(0);
            expect(alts.length).toBeGreaterThanOrEqual(alternateMinimum(s));
            expect(alts.length).toBeLessThanOrEqual(s.maxAlternative ?? Number.POSITIVE_INFINITY);
            for (const a of planned) {
              if (s.assetContentTypeId === 1) expect(a.file.kind).toBe('photo');
              if (s.assetContentTypeId === 2) expect(a.file.kind).toBe('video');
            }
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('rework planning', () => {
  it('produces only the rejected asset: slot A keeps one and redoes one, slot B keeps all', () => {
    const detail = reworkDetail(
      [slot({ mappingKeyId: 'A', minQuantity: 1, maxQuantity: 2 }), slot({ mappingKeyId: 'B' })],
      [
        { assetId: 'a1', mappingKeyId: 'A', isRejected: false },
        { assetId: 'a2', mappingKeyId: 'A', isRejected: true },
        { assetId: 'b1', mappingKeyId: 'B', isRejected: false },
      ],
    );
    const requests = recipeRequests(planWork(detail));
    expect(requests.map((r) => [r.slot.mappingKeyId, r.count, r.replaces.map((o) => o.assetId)])).toEqual([['A', 1, ['a2']]]);
    const plan = planSubmission(detail, new Map([['A', [produced()]]]));
    expect(renderSubmitBody(plan, { 'A#0': 'temp-1' })).toEqual({
      submitAssets: [
        {
          mappingKeyId: 'A',
          assets: [
            {
              oldOutputAssetId: null,
              assetId: 'a1',
              outputResultTypeId: 2,
              assetAttributeId: 0,
              resourceIds: null,
              specId: null,
            },
            {
              oldOutputAssetId: 'a2',
              assetId: 'temp-1',
              outputResultTypeId: 3,
              assetAttributeId: 0,
              resourceIds: null,
              specId: null,
            },
          ],
        },
        {
          mappingKeyId: 'B',
          assets: [
            {
              oldOutputAssetId: null,
              assetId: 'b1',
              outputResultTypeId: 2,
              assetAttributeId: 0,
              resourceIds: null,
              specId: null,
            },
          ],
        },
      ],
    });
  });

  it('redoes a rejected alternate as an alternate, and a whole slot flagged rejected', () => {
    const detail = reworkDetail(
      [slot({ mappingKeyId: 'A', isAlternativeAllowed: true, maxAlternative: 2 }), slot({ mappingKeyId: 'B', isRejected: true })],
      [
        { assetId: 'a1', mappingKeyId: 'A', isRejected: false },
        { assetId: 'a2', mappingKeyId: 'A', assetAttributeId: 4, isRejected: true },
        { assetId: 'b1', mappingKeyId: 'B', isRejected: false },
      ],
    );
    const plan = planSubmission(
      detail,
      new Map([
        ['A', [produced()]],
        ['B', [produced()]],
      ]),
    );
    const body = renderSubmitBody(plan, { 'A#0': 't-a', 'B#0': 't-b' });
    expect(body.submitAssets[0]?.assets[1]).toMatchObject({ oldOutputAssetId: 'a2', outputResultTypeId: 3, assetAttributeId: 4 });
    expect(body.submitAssets[1]?.assets).toEqual([
      { oldOutputAssetId: 'b1', assetId: 't-b', outputResultTypeId: 3, assetAttributeId: 0, resourceIds: null, specId: null },
    ]);
  });

  it('refuses a rework when the recipe produced fewer replacements than rejected assets', () => {
    const detail = reworkDetail(
      [slot({ mappingKeyId: 'A', minQuantity: 2, maxQuantity: 2 })],
      [
        { assetId: 'a1', mappingKeyId: 'A', isRejected: true },
        { assetId: 'a2', mappingKeyId: 'A', isRejected: true },
      ],
    );
    expect(() => planSubmission(detail, new Map([['A', [produced()]]]))).toThrow(
      /slot A: 2 rejected asset\(s\) to replace; the recipe produced 1/,
    );
  });
});

describe('rework properties', () => {
  const earlierArb = fc.array(fc.record({ alternate: fc.boolean(), isRejected: fc.boolean() }), { maxLength: 4 });
  it('keeps every non-rejected earlier output once, redoes every rejected one once, and nothing else', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(slotArb, { minLength: 1, maxLength: 4, selector: (s) => s.mappingKeyId }),
        fc.array(earlierArb, { minLength: 4, maxLength: 4 }),
        fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 2 }),
        (slots, earlierPerSlot, slotRejected, listedOnSlot, extra) => {
          const outputs = slots.flatMap((s, i) =>
            (earlierPerSlot[i] ?? []).map((e, j) => ({
              assetId: `${s.mappingKeyId}-old-${j}`,
              mappingKeyId: s.mappingKeyId,
              assetAttributeId: e.alternate ? 4 : 0,
              isRejected: e.isRejected,
            })),
          );
          const reworked = slots.map((s, i) =>
            slot({
              ...s,
              isRejected: slotRejected[i] ?? false,
              outputAssetIds: listedOnSlot[i]
                ? outputs.filter((o) => o.mappingKeyId === s.mappingKeyId).map((o) => o.assetId)
                : [],
            }),
          );
          const detail = reworkDetail(reworked, outputs);
          const work = planWork(detail);
          const requests = recipeRequests(work);
          const kind = (s: ExpectedOutput) => (s.assetContentTypeId === 2 ? 'video' : 'photo');
          const producedMap = new Map<string, ProducedFile[]>(
            requests.map((r) => [r.slot.mappingKeyId, Array.from({ length: r.count + extra }, () => produced(kind(r.slot)))]),
          );
          let plan: ReturnType<typeof planSubmission>;
          try {
            plan = planSubmission(detail, producedMap);
          } catch (err) {
            // Only a fresh slot (no earlier outputs) may be unfillable by first-pass rules.
            expect((err as ConnectorError).code).toBe('SLOT_UNFILLABLE');
            const slotId = (err as ConnectorError).details?.mappingKeyId;
            expect(work.find((w) => w.slot.mappingKeyId === slotId)?.fresh).toBe(true);
            return;
          }
          const body = renderSubmitBody(plan, tempIds(plan));
          expect(body.submitAssets.map((s) => s.mappingKeyId)).toEqual(slots.map((s) => s.mappingKeyId));
          const temp = body.submitAssets.flatMap((s) => s.assets.filter((a) => a.outputResultTypeId !== 2).map((a) => a.assetId));
          expect(new Set(temp).size).toBe(temp.length);
          for (const [i, group] of body.submitAssets.entries()) {
            const earlier = outputs.filter((o) => o.mappingKeyId === group.mappingKeyId);
            if (earlier.length === 0) {
              expect(group.assets.every((a) => a.outputResultTypeId === 1 && a.oldOutputAssetId === null)).toBe(true);
              continue;
            }
            const anyFlagged = earlier.some((o) => o.isRejected);
            const rejected = (o: (typeof earlier)[number]) => o.isRejected || ((slotRejected[i] ?? false) && !anyFlagged);
            const keeps = group.assets.filter((a) => a.outputResultTypeId === 2);
            const redos = group.assets.filter((a) => a.outputResultTypeId === 3);
            expect(group.assets.filter((a) => a.outputResultTypeId === 1)).toEqual([]);
            expect(keeps.map((a) => a.assetId).sort()).toEqual(
              earlier
                .filter((o) => !rejected(o))
                .map((o) => o.assetId)
                .sort(),
            );
            expect(keeps.every((a) => a.oldOutputAssetId === null)).toBe(true);
            expect(redos.map((a) => a.oldOutputAssetId).sort()).toEqual(
              earlier
                .filter(rejected)
                .map((o) => o.assetId)
                .sort(),
            );
            for (const a of [...keeps, ...redos]) {
              const old = earlier.find((o) => o.assetId === (a.oldOutputAssetId ?? a.assetId));
              expect(a.assetAttributeId).toBe(old?.assetAttributeId);
            }
          }
          // Only what must be produced was asked for: nothing for slots with nothing rejected.
          for (const r of requests) {
            const w = work.find((x) => x.slot.mappingKeyId === r.slot.mappingKeyId);
            expect(w?.fresh || (w?.redo.length ?? 0) > 0).toBe(true);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
