import { describe, expect, it } from 'vitest';
import { sleep } from '../../src/sleep.ts';

describe('sleep', () => {
  it('resolves after the wait without a signal', async () => {
    await expect(sleep(1)).resolves.toBeUndefined();
  });

  it("rejects with the signal's own reason when it aborts during the wait", async () => {
    const controller = new AbortController();
    const reason = new Error('worker shutting down');
    const waiting = sleep(60_000, controller.signal);
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
  });

  it('rejects at once when the signal has already aborted', async () => {
    const reason = new Error('gone');
    await expect(sleep(60_000, AbortSignal.abort(reason))).rejects.toBe(reason);
  });
});
