/**
 * Removes cycle directories left behind by a worker that died: a cycle removes its own directory
 * when it ends, but a crashed process cannot, and its job may have finished on another host.
 * Only directories untouched for longer than `maxAgeMs` go, so a cycle resuming here keeps its
 * files.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';

export async function sweepStaleWorkDirs(workRoot: string, maxAgeMs: number, logger: Logger, now = Date.now()): Promise<number> {
  const entries = await readdir(workRoot, { withFileTypes: true }).catch(() => []);
  let removed = 0;
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const path = join(workRoot, entry.name);
    const info = await stat(path).catch(() => null);
    if (!info || now - info.mtimeMs < maxAgeMs) continue;
    await rm(path, { recursive: true, force: true });
    removed += 1;
  }
  if (removed > 0) logger.info({ removed, workRoot }, 'removed stale cycle directories');
  return removed;
}
