/**
 * The demo variants of docs/recipes.md's worked examples, run as a studio would run them: a real
 * process against the built-in simulators, in a directory of its own (it writes ./demo-output).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisUrl } from '../helpers/redis.ts';
import { runCli } from '../helpers/run-cli.ts';

describe('the demo variants of the worked examples', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cfc-demo-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  // A whole process each (service, simulators, a cycle with paid work): minutes on a loaded machine.
  it('demo pipeline: Sartiq on-model, upscaled, delivered as JPEGs of at most 2000 px', { timeout: 180_000 }, async () => {
    const run = await runCli(['demo', 'pipeline'], { REDIS_URL: redisUrl, LOG_LEVEL: 'warn' }, dir);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('Sartiq was asked for 4 generations (generations, generations, refines, refines)');
    const front = await sharp(join(dir, 'demo-output', '1_Front-1.jpg')).metadata();
    expect([front.format, front.width, front.height, front.space]).toEqual(['jpeg', 1500, 2000, 'srgb']);
  });

  it('demo video: two stills and a video made from the front still, in one submission', { timeout: 180_000 }, async () => {
    const run = await runCli(['demo', 'video'], { REDIS_URL: redisUrl, LOG_LEVEL: 'warn' }, dir);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /Sartiq was asked for 3 generations \(generations, generations, videos from prediction [0-9a-f-]{36}\)/,
    );
    expect((await readdir(join(dir, 'demo-output'))).sort()).toEqual(['1_Front-1.jpg', '2_Back-1.jpg', '3_Video-1.mp4']);
  });
});
