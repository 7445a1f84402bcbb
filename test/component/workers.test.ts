import type { ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { maxInWindow } from '../../src/simulators/creative-force/rate-limit.ts';
import { sampleImage } from '../../src/simulators/index.ts';
import { type LogLine, watchProcess } from '../helpers/process-log.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

describe('worker processes on shared Redis', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('keeps two worker processes under 20 Creative Force calls in every second, and rides out a 429 spell', async () => {
    // Each task makes its own 4 calls (no shared calls): the most load per task on the limiter.
    stack = await startStack('scaling', { env: { CF_SHARED_CALLS: 'false' } });
    const { sim } = stack;
    const { port } = await stack.startService('serve');
    // When each worker sent each token and gateway request, on its own clock (sent-requests.ts):
    // the promise is about what the service sends. The simulator times arrivals in this process,
    // whose event loop, busy with the simulator and the test, can bunch them.
    const sent: number[] = [];
    for (let i = 0; i < 2; i++) {
      const worker = stack.spawnWorker({ capture: true, nodeArgs: ['--import', resolve('test/faults/sent-requests.ts')] });
      watchProcess<LogLine & { at?: number; origin?: string; path?: string }>(worker).onLine((line) => {
        if (line.msg !== 'request sent' || line.at === undefined || line.origin !== sim.baseUrl) return;
        if (line.path?.startsWith(new URL(sim.apiBaseUrl).pathname) || line.path === new URL(sim.tokenUrl).pathname)
          sent.push(line.at);
      });
    }
    const image = await sampleImage({ width: 64, height: 64, format: 'jpeg', label: 'Front' });
    // 4 gateway calls per task (detail, bulk-get-assets, presign, submit) + tokens: 52 tasks > 200 calls.
    const tasks = Array.from({ length: 52 }, () =>
      sim.addTask({
        inputs: [{ positionName: 'Front', fileName: 'f.jpg', body: image }],
        slots: [{ mappingKeyId: 'A', positionName: 'Front' }],
      }),
    );
    for (const t of tasks)
      expect((await sim.sendWebhook(stack.webhookUrl(port), t.taskProcessId, stack.secret)).status).toBe(202);
    await stack.waitFor('all submissions', () => tasks.every((t) => sim.submissions(t.taskProcessId).length === 1), 90_000);

    expect(sim.callLog().length).toBeGreaterThanOrEqual(200);
    expect(sent.length).toBeGreaterThanOrEqual(sim.callLog().length);
    expect(maxInWindow(sent, 1000)).toBeLessThanOrEqual(20);
    // At Creative Force's edge (here, the simulator's own clock) a late arrival can still make a
    // 21st request in a second: it is answered 429 and the limiter slows down. Rare, never a storm.
    expect(sim.count429()).toBeLessThanOrEqual(2);

    // Now Creative Force answers 429 for a while: the service pauses and still completes everything.
    const more = Array.from({ length: 10 }, () =>
      sim.addTask({
        inputs: [{ positionName: 'Front', fileName: 'f.jpg', body: image }],
        slots: [{ mappingKeyId: 'A', positionName: 'Front' }],
      }),
    );
    sim.forceRateLimit(3000, { retryAfterSeconds: 1 });
    for (const t of more) expect((await sim.sendWebhook(stack.webhookUrl(port), t.taskProcessId, stack.secret)).status).toBe(202);
    await stack.waitFor(
      'the submissions after the 429 spell',
      () => more.every((t) => sim.submissions(t.taskProcessId).length === 1),
      90_000,
    );
    expect(sim.count429()).toBeGreaterThan(0);
    expect(more.flatMap((t) => sim.statusUpdates(t.taskProcessId))).toEqual([]);
    // No burst of retries: 429s stay few because every process paused on the shared limiter.
    expect(sim.count429()).toBeLessThanOrEqual(10);
  }, 180_000);

  it('resumes after a worker is killed right after the upload step: no second processing, one submission', async () => {
    stack = await startStack('crash');
    const { sim } = stack;
    const { service, port } = await stack.startService('serve');
    const task = sim.addTask({
      inputs: [
        {
          positionName: 'Front',
          fileName: 'front.jpg',
          body: await sampleImage({ width: 300, height: 300, format: 'jpeg', label: 'Front' }),
        },
        {
          positionName: 'Back',
          fileName: 'back.jpg',
          body: await sampleImage({ width: 300, height: 300, format: 'jpeg', label: 'Back' }),
        },
      ],
      slots: [
        { mappingKeyId: '1_Front', positionName: 'Front' },
        { mappingKeyId: '2_Back', positionName: 'Back' },
      ],
    });
    const hold = sim.holdSubmissions();
    const first = stack.spawnWorker();
    expect((await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret)).status).toBe(202);
    expect(await hold.arrived).toBe(task.taskProcessId);
    first.kill('SIGKILL');
    await exited(first);
    hold.release();
    const before = sim.s3Stats();
    expect(before).toEqual({ gets: 2, puts: 2 });
    expect(sim.submissions(task.taskProcessId)).toHaveLength(0);

    stack.spawnWorker();
    await stack.waitFor('the submission after restart', () => sim.submissions(task.taskProcessId).length > 0, 60_000);
    await stack.idle(service); // nothing left to run: a second submission would be there now
    expect(sim.submissions(task.taskProcessId)).toHaveLength(1);
    expect(sim.rejectedSubmissions(task.taskProcessId)).toHaveLength(0);
    // Nothing downloaded, converted or uploaded again: the checkpoint carried the tempAssetIds.
    expect(sim.s3Stats()).toEqual(before);
    expect(sim.callLog().filter((c) => c.path.includes('get-presigned-url'))).toHaveLength(1);
  }, 120_000);

  it('reports a cycle whose worker keeps dying to Creative Force once, as abandoned', async () => {
    stack = await startStack('abandoned', { env: { WORKER_MAX_STALLED_COUNT: '0' } });
    const { sim } = stack;
    const { service, port } = await stack.startService('serve');
    const task = sim.addTask({
      inputs: [
        {
          positionName: 'Front',
          fileName: 'front.jpg',
          body: await sampleImage({ width: 64, height: 64, format: 'jpeg', label: 'Front' }),
        },
      ],
      slots: [{ mappingKeyId: '1_Front', positionName: 'Front' }],
    });
    const hold = sim.holdSubmissions();
    const first = stack.spawnWorker();
    expect((await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret)).status).toBe(202);
    await hold.arrived;
    first.kill('SIGKILL');
    await exited(first);
    hold.release();
    stack.spawnWorker();
    await stack.waitFor('the status update', () => sim.statusUpdates(task.taskProcessId).length > 0, 60_000);
    await stack.idle(service);
    const updates = sim.statusUpdates(task.taskProcessId);
    expect(updates).toHaveLength(1);
    expect(updates[0]?.message).toMatch(/stopped repeatedly.*\[CYCLE_ABANDONED\]/);
    expect(sim.submissions(task.taskProcessId)).toHaveLength(0);
  }, 120_000);
});
