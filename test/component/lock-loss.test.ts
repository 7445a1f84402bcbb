/**
 * A worker whose job lock is gone (a Redis outage longer than the lock, when another worker has
 * meanwhile taken the job) stops at its next checkpoint write: before any paid call and before
 * Submit Output. The job is then recovered by the stalled-job check and completed once.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { builtInRecipes, type ConvertOptions, convertRecipe, type Recipe } from '../../src/providers/index.ts';
import { photoInput } from '../helpers/photo-input.ts';
import { redisUrl } from '../helpers/redis.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

describe('a cycle whose job lock is lost', () => {
  let stack: Stack;
  const redis = new Redis(redisUrl);
  afterAll(async () => {
    await stack.close();
    await redis.quit();
  });

  it('stops before its upload and Submit Output; the recovered job completes with one submission', async () => {
    let runs = 0;
    let prefix = '';
    const thief: Recipe<ConvertOptions> = {
      ...convertRecipe,
      name: 'lock-thief',
      run: async (run) => {
        runs += 1;
        // The first run's lock disappears while it works, as after a long Redis outage.
        if (runs === 1) for (const key of await redis.keys(`${prefix}:cycles:*:lock`)) await redis.del(key);
        return convertRecipe.run(run);
      },
    };
    stack = await startStack('lock-loss', { recipe: 'lock-thief', recipes: [...builtInRecipes, thief] });
    prefix = stack.prefix;
    const { sim } = stack;
    const { service, port } = await stack.startService('start');
    const task = sim.addTask({
      inputs: [await photoInput('Front', 300, 300)],
      slots: [{ mappingKeyId: '1_Front', positionName: 'Front' }],
    });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length > 0, 30_000);
    await stack.idle(service);

    expect(runs).toBe(2);
    expect(sim.submissions(task.taskProcessId)).toHaveLength(1);
    expect(sim.rejectedSubmissions(task.taskProcessId)).toEqual([]);
    expect(sim.statusUpdates(task.taskProcessId)).toEqual([]);
    // One upload per run that got that far: only the recovered one did.
    expect(sim.s3Stats().puts).toBe(1);
  });
});
