/**
 * Benchmark of the shared Redis rate limiter: several processes, each with two Redis connections
 * and many concurrent clients, acquire slots in a loop for a few seconds; halfway through, one
 * process triggers a shared pause. Prints throughput, the most grants seen in any 1000 ms window
 * (must not exceed the limit), Redis round trips per grant, wait percentiles, and the grants inside
 * the pause (must be 0).
 *
 *   node bench/rate-limiter.ts [--processes 2] [--clients 100] [--seconds 6] [--limit 20] [--pause-ms 1000]
 *
 * `--clients` is the total over all processes. REDIS_URL defaults to redis://127.0.0.1:6379.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { type RateLimitGrant, RedisRateLimiter } from '../src/creative-force/index.ts';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

interface ChildTask {
  keyPrefix: string;
  clients: number;
  seconds: number;
  limit: number;
}

interface ChildResult {
  grants: RateLimitGrant[];
}

async function runChild(task: ChildTask): Promise<ChildResult> {
  const connections = [new Redis(redisUrl), new Redis(redisUrl)];
  const limiters = connections.map((redis) => new RedisRateLimiter({ redis, limit: task.limit, keyPrefix: task.keyPrefix }));
  // At the end, acquires still waiting are aborted, so the run lasts `seconds` and no longer.
  const stop = AbortSignal.timeout(task.seconds * 1000);
  const grants: RateLimitGrant[] = [];
  await Promise.all(
    Array.from({ length: task.clients }, async (_, i) => {
      const limiter = limiters[i % limiters.length] as RedisRateLimiter;
      while (!stop.aborted) {
        try {
          grants.push(await limiter.acquire(stop));
        } catch (err) {
          if (!stop.aborted) throw err;
        }
      }
    }),
  );
  await Promise.all(connections.map((c) => c.quit()));
  return { grants };
}

function maxInWindow(sortedTimes: number[], windowMs: number): number {
  let max = 0;
  let start = 0;
  for (let end = 0; end < sortedTimes.length; end++) {
    while ((sortedTimes[end] as number) - (sortedTimes[start] as number) >= windowMs) start++;
    max = Math.max(max, end - start + 1);
  }
  return max;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function runParent(): Promise<void> {
  const { values } = parseArgs({
    options: {
      processes: { type: 'string', default: '2' },
      clients: { type: 'string', default: '100' },
      seconds: { type: 'string', default: '6' },
      limit: { type: 'string', default: '20' },
      'pause-ms': { type: 'string', default: '1000' },
    },
  });
  const processes = Number(values.processes);
  const clients = Number(values.clients);
  const seconds = Number(values.seconds);
  const limit = Number(values.limit);
  const pauseMs = Number(values['pause-ms']);
  const keyPrefix = `{cfc-bench-${randomUUID()}}:rl`;
  const redis = new Redis(redisUrl);

  console.log(
    `rate limiter bench: ${processes} processes x 2 Redis connections, ${clients} concurrent clients in all, ` +
      `limit ${limit}/s, ${seconds} s, shared pause of ${pauseMs} ms at ${seconds / 2} s`,
  );
  const results = Array.from({ length: processes }, (_, p) => {
    const task: ChildTask = {
      keyPrefix,
      clients: Math.floor(clients / processes) + (p < clients % processes ? 1 : 0),
      seconds,
      limit,
    };
    const child = fork(import.meta.filename, ['--child', JSON.stringify(task)], { stdio: 'inherit' });
    return new Promise<ChildResult>((resolve, reject) => {
      child.once('message', (message) => resolve(message as ChildResult));
      child.once('error', reject);
      child.once('exit', (code) => code === 0 || reject(new Error(`bench child exited with ${code}`)));
    });
  });

  // Halfway, pause every process through the limiter and note the pause interval on the Redis clock.
  await new Promise((resolve) => setTimeout(resolve, (seconds / 2) * 1000));
  const [s, us] = await redis.time();
  const pauseStart = Number(s) * 1000 + Number(us) / 1000;
  const limiter = new RedisRateLimiter({ redis, limit, keyPrefix });
  const pauseLeft = await limiter.pause(pauseMs);
  const pauseEnd = pauseStart + pauseLeft;

  const grants = (await Promise.all(results)).flatMap((r) => r.grants);
  await redis.del(...limiter.keys);
  await redis.quit();

  const times = grants.map((g) => g.grantedAtMs).sort((a, b) => a - b);
  const first = times[0] ?? 0;
  const last = times.at(-1) ?? 0;
  // Consecutive 1000 ms buckets from the first grant. Throughput is the mean of the complete buckets
  // that do not touch the pause: a bucket after an idle stretch may legitimately start with a burst.
  const buckets = Array.from(
    { length: Math.ceil((last - first + 1) / 1000) },
    (_, i) => times.filter((t) => t - first >= i * 1000 && t - first < (i + 1) * 1000).length,
  );
  const steady = buckets.filter((_, i) => {
    const start = first + i * 1000;
    return start + 1000 <= last && (start + 1000 <= pauseStart || start >= pauseEnd);
  });
  const throughput = steady.reduce((sum, n) => sum + n, 0) / steady.length;
  const waits = grants.map((g) => g.waitedMs).sort((a, b) => a - b);
  const attempts = grants.reduce((sum, g) => sum + g.attempts, 0);
  const inPause = times.filter((t) => t > pauseStart + 1 && t < pauseEnd - 1).length;
  const minGap = Math.min(...times.slice(1).map((t, i) => t - (times[i] ?? 0)));
  const fmt = (n: number) => n.toFixed(1);

  console.log(`grants:                        ${grants.length} over ${fmt(last - first)} ms (Redis clock)`);
  console.log(`grants per 1 s bucket:         ${buckets.join(' ')}`);
  console.log(
    `throughput:                    ${fmt(throughput)} grants/s (complete buckets outside the pause; target ${limiter.targetRps}, ceiling ${limit})`,
  );
  console.log(`max grants in any 1000 ms:     ${maxInWindow(times, 1000)} (must be <= ${limit})`);
  console.log(`grants inside the pause:       ${inPause} (must be 0)`);
  console.log(
    `smallest gap between grants:   ${fmt(minGap)} ms (slot interval ${fmt(1000 / limiter.targetRps)} ms at the target rate)`,
  );
  console.log(`Redis script calls per grant:  ${fmt(attempts / grants.length)}`);
  console.log(
    `wait per granted acquire (ms): p50 ${fmt(percentile(waits, 50))}  p90 ${fmt(percentile(waits, 90))}  ` +
      `p99 ${fmt(percentile(waits, 99))}  max ${fmt(waits.at(-1) ?? 0)}`,
  );
  if (maxInWindow(times, 1000) > limit || inPause > 0) process.exitCode = 1;
}

const childIndex = process.argv.indexOf('--child');
if (childIndex === -1) {
  await runParent();
} else {
  const result = await runChild(JSON.parse(process.argv[childIndex + 1] ?? '{}') as ChildTask);
  process.send?.(result, () => process.disconnect());
}
