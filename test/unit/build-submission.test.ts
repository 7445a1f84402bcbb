import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ExpectedOutput } from '../../src/creative-force/schemas.ts';
import {
  alternateMinimum,
  mainMinimum,
  plannedAssets,
  planSubmission,
  renderSubmitBody,
} from '../../src/cycle/build-submission.ts';
import { ConnectorError } from '../../src/errors.ts';
import type { ProducedFile } from '../../src/providers/recipe.ts';
import { detailWith, produced, slot } from '../fixtures/process-detail.ts';

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
