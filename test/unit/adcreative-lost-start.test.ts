import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { adCreativeLostStart } from '../../src/providers/adcreative/lost-start.ts';
import { renderProgressSchema } from '../../src/providers/adcreative/schemas.ts';

const userId = '2f1e3c4d-5b6a-4d8f-9c01-e2d3c4b5f6a7';

/** A CheckApplicationAllProgresses entry shaped as in AdCreative's example. */
function process(over: { id?: string; userId?: string | null; tasks?: number } = {}) {
  const tasks = over.tasks ?? 6;
  return renderProgressSchema.parse({
    messageType: 'ImageProductGenerationProgress',
    requestRenderState: 5,
    applicationId: '6a9d3f2c-1b0e-4c7f-a8d5-e3f0c1b9a4d6',
    userId: over.userId === undefined ? userId : over.userId,
    imageRenderProcessId: over.id ?? randomUUID(),
    totalTaskCount: tasks,
    completedTaskCount: tasks,
    progress: 100,
    taskUrls: Array.from({ length: tasks }, () => ({ taskId: randomUUID(), renderState: 5, publicImageUrl: null })),
    renderType: 4,
    isSuccessful: true,
    errorMessage: '',
  });
}

describe('adCreativeLostStart: which listed process a lost start began', () => {
  const old = process();
  const fingerprint = { userId, taskCount: 6, known: [old.processId.toLowerCase()] };

  it('adopts the one process of the user and task count that appeared since the intent', () => {
    const mine = process();
    expect(adCreativeLostStart(fingerprint, [old, mine], new Set())).toEqual({ found: 'one', start: mine.processId });
  });

  it('finds none when only processes known before the start are listed', () => {
    expect(adCreativeLostStart(fingerprint, [old], new Set())).toEqual({ found: 'none' });
  });

  it('compares process ids and users without case', () => {
    const upper = process({ userId: userId.toUpperCase() });
    const known = { ...fingerprint, known: [upper.processId.toLowerCase()] };
    const listed = { ...upper, processId: upper.processId.toUpperCase() };
    expect(adCreativeLostStart(known, [listed], new Set())).toEqual({ found: 'none' });
    expect(adCreativeLostStart(fingerprint, [listed], new Set())).toEqual({ found: 'one', start: listed.processId });
  });

  it("leaves out other users' processes and work another start claimed", () => {
    const otherUser = process({ userId: randomUUID() });
    const claimed = process();
    const listing = [old, otherUser, claimed];
    expect(adCreativeLostStart(fingerprint, listing, new Set([claimed.processId]))).toEqual({ found: 'none' });
  });

  it('adopts a single new process whatever its number of tasks (one per prompt object is not documented)', () => {
    const sixTasks = process({ tasks: 6 });
    expect(adCreativeLostStart({ ...fingerprint, taskCount: 4 }, [old, sixTasks], new Set())).toEqual({
      found: 'one',
      start: sixTasks.processId,
    });
  });

  it("chooses between two new processes by the number of tasks when only one has the start's", () => {
    const four = process({ tasks: 4 });
    const six = process({ tasks: 6 });
    expect(adCreativeLostStart(fingerprint, [four, six], new Set())).toEqual({ found: 'one', start: six.processId });
  });

  it('counts a process without a user as possibly the one', () => {
    const unnamed = process({ userId: null });
    expect(adCreativeLostStart(fingerprint, [unnamed], new Set())).toEqual({ found: 'one', start: unnamed.processId });
  });

  it('never chooses between two new processes (the listing has no documented order)', () => {
    const a = process();
    const b = process();
    expect(adCreativeLostStart(fingerprint, [a, old, b], new Set())).toEqual({
      found: 'several',
      ids: [a.processId, b.processId],
    });
  });

  it('cannot confirm a process when the listing was not read before the start', () => {
    const mine = process();
    const blind = { ...fingerprint, known: null };
    expect(adCreativeLostStart(blind, [mine], new Set())).toEqual({ found: 'several', ids: [mine.processId] });
    expect(adCreativeLostStart(blind, [], new Set())).toEqual({ found: 'none' });
  });
});
