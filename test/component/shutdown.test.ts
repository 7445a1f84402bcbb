/**
 * A shutdown past its deadline stops the cycles still running: they go back to the queue without
 * using an attempt, so a cycle on its last attempt is neither lost nor left "In Progress" unreported.
 */
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { builtInRecipes, type ConvertOptions, convertRecipe, type Recipe } from '../../src/providers/index.ts';
import { cycleQueueName } from '../../src/queue/cycle-job.ts';
import { photoInput } from '../helpers/photo-input.ts';
import { producerRedis } from '../helpers/redis.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

describe('shutdown past the deadline', () => {
  let stack: Stack;
  afterAll(async () => stack.close());

  it('hands a running cycle on its last attempt back to the queue; the next worker completes it, nothing reported', async () => {
    // A recipe that works until it is told to finish, or stopped (as a long AI generation is).
    let runs = 0;
    let finish = (): void => {};
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const slow: Recipe<ConvertOptions> = {
      ...convertRecipe,
      name: 'slow',
      run: async (run) => {
        runs += 1;
        if (runs === 1) {
          await new Promise<void>((_, reject) => run.signal.addEventListener('abort', () => reject(run.signal.reason)));
        }
        await finished;
        return convertRecipe.run(run);
      },
    };
    stack = await startStack('shutdown', {
      recipe: 'slow',
      recipes: [...builtInRecipes, slow],
      // The last attempt is the first: a failed attempt would end the cycle.
      env: { CYCLE_ATTEMPTS: '1', SHUTDOWN_TIMEOUT_MS: '300' },
    });
    const { sim } = stack;
    const first = await stack.startService('start');
    const task = sim.addTask({
      inputs: [await photoInput('Front', 300, 300)],
      slots: [{ mappingKeyId: '1_Front', positionName: 'Front' }],
    });
    expect((await sim.sendWebhook(stack.webhookUrl(first.port), task.taskProcessId, stack.secret)).status).toBe(202);
    await stack.waitFor('the recipe to start', () => runs === 1);

    await first.service.stop();
    const queue = new Queue(cycleQueueName, { connection: producerRedis(), prefix: stack.prefix });
    const jobs = await queue.getJobs(['wait', 'failed', 'delayed', 'active', 'completed']);
    expect(jobs).toHaveLength(1);
    expect(await jobs[0]?.getState()).toBe('waiting');
    expect(jobs[0]?.attemptsMade).toBe(0);
    await queue.close();
    expect(sim.statusUpdates(task.taskProcessId)).toEqual([]);

    finish();
    const second = await stack.startService('start');
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length > 0);
    await stack.idle(second.service);
    expect(sim.submissions(task.taskProcessId)).toHaveLength(1);
    expect(sim.statusUpdates(task.taskProcessId)).toEqual([]);
    expect(runs).toBe(2);
  });
});
