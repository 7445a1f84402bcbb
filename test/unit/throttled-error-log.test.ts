import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { throttledErrorLog } from '../../src/observability/throttled-error-log.ts';
import { capturedLogger } from '../helpers/captured-logger.ts';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

it('logs the first error at once, then one line per interval counting the ones left out', () => {
  const { logger, lines } = capturedLogger('info');
  const onError = throttledErrorLog(logger, 'redis connection error', { intervalMs: 10_000 });
  const parsed = () => lines.map((line) => JSON.parse(line) as { level: number; msg: string; suppressed: number; err: object });

  onError(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
  for (let i = 0; i < 20; i++) {
    vi.advanceTimersByTime(400);
    onError(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
  }
  expect(parsed()).toHaveLength(1);
  expect(parsed()[0]).toMatchObject({ level: 40, msg: 'redis connection error', suppressed: 0 });
  expect(parsed()[0]?.err).toMatchObject({ message: 'connect ECONNREFUSED 127.0.0.1:6379' });

  vi.advanceTimersByTime(2_000); // 10 s after the first line
  onError(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
  expect(parsed()).toHaveLength(2);
  expect(parsed()[1]).toMatchObject({ level: 40, suppressed: 20 });
});

it('logs at error level when asked, and each listener throttles on its own', () => {
  const { logger, lines } = capturedLogger('info');
  const worker = throttledErrorLog(logger, 'worker error', { level: 'error' });
  const events = throttledErrorLog(logger, 'queue events error');
  worker(new Error('a'));
  events(new Error('b'));
  worker(new Error('c'));
  const parsed = lines.map((line) => JSON.parse(line) as { level: number; msg: string });
  expect(parsed.map((l) => [l.level, l.msg])).toEqual([
    [50, 'worker error'],
    [40, 'queue events error'],
  ]);
});
