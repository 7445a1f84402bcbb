import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { defaultSartiqLostStarts, defaultSartiqStatuses } from '../../src/providers/sartiq/config.ts';
import {
  type SartiqStartFingerprint,
  sartiqLostRefines,
  sartiqLostStart,
  sartiqStartFingerprint,
} from '../../src/providers/sartiq/lost-start.ts';
import { sartiqSchemas } from '../../src/providers/sartiq/schemas.ts';

const schemas = sartiqSchemas(defaultSartiqStatuses);
const t0 = Date.parse('2026-05-01T10:00:00.000Z');
const upload = 'https://r2.example/temp/4f1c_1714557600_front.jpg';

/** A GET /generations/ entry: GenerationPublic fields as Sartiq sends them. */
function listed(over: Record<string, unknown> = {}) {
  const fields = {
    id: randomUUID(),
    created_at: new Date(t0 + 1_000).toISOString(),
    updated_at: new Date(t0 + 1_000).toISOString(),
    batch_size: 4,
    status: 'PROCESSING',
    generation_type: 'BASE',
    generation_strategy: 'GENERATE',
    product_image_url: upload,
    predictions: [],
    owner_id: randomUUID(),
    ...over,
  };
  return { generation: schemas.generation.parse(fields), fields };
}

const wire = (kind: keyof typeof defaultSartiqLostStarts.strategies) => ({
  inputField: defaultSartiqLostStarts.inputFields[kind],
  strategy: defaultSartiqLostStarts.strategies[kind],
});
const generate: SartiqStartFingerprint = { kind: 'generate', input: upload, batchSize: 4 };
const intent = (fingerprint: SartiqStartFingerprint) => ({ fingerprint, notBefore: t0 - 60_000 });

describe('sartiqStartFingerprint', () => {
  it('takes the input from the field each endpoint sends it in, and the batch size', () => {
    expect(sartiqStartFingerprint({ kind: 'generate', body: { product_image: upload, batch_size: 4 } })).toEqual(generate);
    expect(sartiqStartFingerprint({ kind: 'edit', body: { base_img_path: upload, batch_size: 1 } })).toMatchObject({
      input: upload,
    });
    expect(sartiqStartFingerprint({ kind: 'video', body: { base_image_path: upload } })).toMatchObject({ input: upload });
    expect(sartiqStartFingerprint({ kind: 'upscale', body: { base_image_urls: [upload] } })).toMatchObject({ input: upload });
    expect(sartiqStartFingerprint({ kind: 'video', body: { prediction_id: randomUUID() } })).toEqual({
      kind: 'video',
      input: null,
      batchSize: null,
    });
  });
});

describe('sartiqLostStart: which listed generation a lost start made', () => {
  it('adopts the generation created since the intent that shows its input', () => {
    const mine = listed();
    const other = listed({ product_image_url: 'https://r2.example/temp/other.jpg' });
    expect(sartiqLostStart(intent(generate), [other, mine], new Set(), wire('generate'))).toEqual({
      found: 'one',
      start: mine.generation,
    });
  });

  it('finds none when nothing since the intent shows the input', () => {
    const older = listed({ created_at: new Date(t0 - 120_000).toISOString() });
    const elsewhere = listed({ product_image_url: 'https://r2.example/temp/other.jpg' });
    expect(sartiqLostStart(intent(generate), [elsewhere, older], new Set(), wire('generate'))).toEqual({ found: 'none' });
  });

  it('leaves out generations of another kind or claimed by another start', () => {
    const agentic = listed({ generation_type: 'AGENTIC' });
    const edit = listed({ generation_strategy: 'EDITING' });
    const claimed = listed();
    const listing = [agentic, edit, claimed];
    expect(sartiqLostStart(intent(generate), listing, new Set([claimed.generation.id]), wire('generate'))).toEqual({
      found: 'none',
    });
  });

  it('takes the newest of several showing the input (only this start sent it)', () => {
    const first = listed();
    const second = listed({ created_at: new Date(t0 + 5_000).toISOString() });
    expect(sartiqLostStart(intent(generate), [first, second], new Set(), wire('generate'))).toEqual({
      found: 'one',
      start: second.generation,
    });
  });

  it('an agentic start matches AGENTIC generations whatever their batch', () => {
    const fingerprint: SartiqStartFingerprint = { kind: 'agentic', input: upload, batchSize: 4 };
    const run = listed({ generation_type: 'AGENTIC', batch_size: 1, shot_id: 'shot-1' });
    const lost = sartiqLostStart(intent(fingerprint), [listed(), run], new Set(), wire('agentic'));
    expect(lost).toEqual({ found: 'one', start: run.generation });
    expect(lost.found === 'one' && lost.start.shotId).toBe('shot-1');
  });

  describe('a kind whose input no field shows', () => {
    const edit: SartiqStartFingerprint = { kind: 'edit', input: upload, batchSize: 1 };
    const edits = (n: number) =>
      Array.from({ length: n }, () =>
        listed({ generation_strategy: 'EDITING', batch_size: 1, product_image_url: null, tool: 'EDIT' }),
      );

    it('adopts the one candidate of its kind', () => {
      const [only] = edits(1);
      if (!only) throw new Error('one edit');
      expect(sartiqLostStart(intent(edit), [listed(), only], new Set(), wire('edit'))).toEqual({
        found: 'one',
        start: only.generation,
      });
    });

    it("chooses between two by the batch size when only one has the start's", () => {
      const [one] = edits(1);
      const three = listed({ generation_strategy: 'EDITING', batch_size: 3, product_image_url: null, tool: 'EDIT' });
      if (!one) throw new Error('one edit');
      expect(sartiqLostStart(intent(edit), [three, one], new Set(), wire('edit'))).toEqual({
        found: 'one',
        start: one.generation,
      });
      expect(sartiqLostStart(intent(edit), [three], new Set(), wire('edit'))).toEqual({ found: 'one', start: three.generation });
    });

    it('never chooses between two', () => {
      const two = edits(2);
      expect(sartiqLostStart(intent(edit), two, new Set(), wire('edit'))).toEqual({
        found: 'several',
        ids: two.map((g) => g.generation.id),
      });
    });

    it('uses the field SARTIQ_INPUT_FIELDS names for it', () => {
      const [a, b] = edits(2);
      if (!a || !b) throw new Error('two edits');
      const shown = { ...b, fields: { ...b.fields, garment_placement_base_image_url: upload } };
      const configured = { ...wire('edit'), inputField: 'garment_placement_base_image_url' };
      expect(sartiqLostStart(intent(edit), [a, shown], new Set(), configured)).toEqual({ found: 'one', start: b.generation });
    });
  });

  it('counts a generation without a date or a strategy as possibly the one', () => {
    const undated = listed({ created_at: null, generation_strategy: null });
    expect(sartiqLostStart(intent(generate), [undated], new Set(), wire('generate'))).toEqual({
      found: 'one',
      start: undated.generation,
    });
  });
});

describe('sartiqLostRefines: the refines a lost refines call made', () => {
  const refine = (predictionId: string, at: number) => ({
    id: randomUUID(),
    prediction_id: predictionId,
    status: 'pending',
    created_at: new Date(at).toISOString(),
  });

  it('takes, per prediction, the newest refine created since the intent', () => {
    const [p1, p2, p3] = [randomUUID(), randomUUID(), randomUUID()];
    const older = refine(p1, t0 - 600_000);
    const mine = refine(p1, t0 + 2_000);
    const later = refine(p2, t0 + 3_000);
    const generation = schemas.generation.parse({
      id: randomUUID(),
      predictions: [
        { id: p1, status: 'completed', refines: [older, mine] },
        { id: p2, status: 'completed', refines: [later] },
        { id: p3, status: 'completed', refines: [] },
      ],
    });
    const fingerprint = { generationId: generation.id, predictionIds: [p1, p2, p3] };
    expect(sartiqLostRefines({ fingerprint, notBefore: t0 - 60_000 }, generation)).toEqual({
      found: 'one',
      start: { [p1]: mine.id, [p2]: later.id },
    });
  });

  it('finds none when no prediction has a refine since the intent', () => {
    const p1 = randomUUID();
    const generation = schemas.generation.parse({
      id: randomUUID(),
      predictions: [{ id: p1, status: 'completed', refines: [refine(p1, t0 - 600_000)] }],
    });
    const fingerprint = { generationId: generation.id, predictionIds: [p1] };
    expect(sartiqLostRefines({ fingerprint, notBefore: t0 - 60_000 }, generation)).toEqual({ found: 'none' });
  });
});
