/**
 * Pieces every AI provider recipe shares: which inputs a slot works from, how many results to ask
 * for and how many a slot takes, and downloading a finished (already paid) result with retries of
 * its own.
 */
import { ConnectorError } from '../errors.ts';
import { sleep } from '../sleep.ts';
import type { InputFile, SlotRequest } from './recipe.ts';

/** The inputs of a slot: its position's inputs, else the first input. */
export function inputsFor(request: SlotRequest, inputs: readonly InputFile[]): InputFile[] {
  const position = request.slot.positionName?.trim().toLowerCase();
  const matching = position ? inputs.filter((i) => i.positionName?.trim().toLowerCase() === position) : [];
  if (matching.length > 0) return matching;
  const [first] = inputs;
  if (!first) throw new ConnectorError('TASK_INPUT_MISSING', 'the task has no input asset to send to the AI service');
  return [first];
}

/**
 * A failed download is retried on its own (the generation it belongs to is finished and paid); the
 * waits between attempts end when `signal` aborts.
 */
export async function downloadWithRetry<T>(download: () => Promise<T>, signal: AbortSignal, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await download();
    } catch (err) {
      const retryable = err instanceof ConnectorError && err.retryable;
      if (!retryable || attempt >= attempts) throw err;
      await sleep(500 * 2 ** (attempt - 1), signal);
    }
  }
}

/**
 * How many results to ask a generative service for: on a first pass as many as the slot can hold
 * (main places and alternates: AI images are candidates, the studio picks), at most `cap`; on a
 * rework one per rejected asset.
 */
export function slotCapacity(request: SlotRequest, cap: number): number {
  if (request.replaces.length > 0) return request.count;
  const { slot } = request;
  const main = slot.maxQuantity ?? Math.max(1, slot.minQuantity);
  const alternates = slot.isAlternativeAllowed || slot.isAlternativeRequired ? (slot.maxAlternative ?? cap) : 0;
  return Math.min(cap, Math.max(request.count, main + alternates));
}

/**
 * How many files a slot takes at most: on a rework one per rejected asset; on a first pass its main
 * places and, where alternates are allowed, its alternates (unbounded where Creative Force sets no
 * maximum). The submission planner (src/cycle/build-submission.ts) keeps the best-ranked files up
 * to this number and drops the rest, so a recipe downloads no more than this many of a slot's
 * results: downloads take time and, with some services, credits.
 */
export function slotTakes(request: SlotRequest): number {
  if (request.replaces.length > 0) return request.count;
  const { slot } = request;
  const alternates = slot.isAlternativeAllowed || slot.isAlternativeRequired ? (slot.maxAlternative ?? Infinity) : 0;
  return (slot.maxQuantity ?? Infinity) + alternates;
}
