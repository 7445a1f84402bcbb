/**
 * A short run of the receiver fuzzer in CI (bench/fuzz-receiver.ts runs a long one): a real
 * `serve` process on real Redis, thousands of hostile requests, then the verdicts.
 */
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cycleQueueName } from '../../src/queue/cycle-job.ts';
import { producerRedis } from '../helpers/redis.ts';
import { type Stack, startStack } from '../helpers/stack.ts';
import { fuzzReceiver } from './receiver-fuzzer.ts';
import { type ServeProcess, spawnServe } from './serve-process.ts';

describe('the receiver under fuzzing', () => {
  let stack: Stack;
  let serve: ServeProcess;
  beforeAll(async () => {
    stack = await startStack('fuzz');
    serve = await spawnServe(stack);
  });
  afterAll(async () => {
    await serve.stop();
    await stack.close();
  });

  it('answers every request as documented, queues exactly what it accepted, and never crashes', async () => {
    const seed = Number(process.env.FUZZ_SEED ?? 20261201);
    const report = await fuzzReceiver(
      { port: serve.port, connectionId: 'acme', secret: stack.secret, subfunctionId: 54, stepId: 25 },
      { count: 3000, seed },
    );
    expect(report.unexpected, `seed ${seed}`).toEqual([]);
    // Every kind of mutation was sent (the generator did not degenerate).
    expect(Object.keys(report.kinds).sort()).toEqual(
      ['bytes', 'connection', 'field', 'framing', 'headers', 'ignored', 'route', 'signature', 'size', 'valid'].sort(),
    );
    expect(report.accepted.size).toBeGreaterThan(100);

    const connection = producerRedis();
    const queue = new Queue(cycleQueueName, { connection, prefix: stack.prefix });
    const queued = (await queue.getJobs(['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'])).map((j) => j.id);
    await queue.close();
    connection.disconnect();
    expect(queued.sort()).toEqual([...report.accepted].sort());

    expect(serve.child.exitCode).toBeNull();
    expect(serve.stderr()).toBe('');
  });
});
