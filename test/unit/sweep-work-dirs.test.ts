import { mkdir, mkdtemp, readdir, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { expect, it } from 'vitest';
import { sweepStaleWorkDirs } from '../../src/worker/sweep-work-dirs.ts';

it('removes only cycle directories untouched for longer than the limit', async () => {
  const root = await mkdtemp(join(tmpdir(), 'cfc-sweep-'));
  const now = Date.now();
  for (const [name, ageHours] of [
    ['old', 30],
    ['fresh', 1],
  ] as const) {
    await mkdir(join(root, name, 'in'), { recursive: true });
    await writeFile(join(root, name, 'in', 'a.jpg'), 'x');
    const t = new Date(now - ageHours * 3600_000);
    await utimes(join(root, name), t, t);
  }
  await writeFile(join(root, 'stray-file'), 'x');
  expect(await sweepStaleWorkDirs(root, 24 * 3600_000, pino({ level: 'silent' }), now)).toBe(1);
  expect((await readdir(root)).sort()).toEqual(['fresh', 'stray-file']);
  expect(await sweepStaleWorkDirs(join(root, 'missing'), 1, pino({ level: 'silent' }))).toBe(0);
});
