import type { Logger } from 'pino';

/** One line per connection every 30 s shows an outage; more would only repeat it. */
const errorLogIntervalMs = 30_000;

export interface ThrottledErrorLogOptions {
  level?: 'warn' | 'error';
  intervalMs?: number;
}

/**
 * An error listener for an error that repeats while a remote system is down (ioredis reports
 * every failed reconnect): the first error is logged at once, then at most one line per
 * `intervalMs`, whose `suppressed` field counts the errors left out since the previous line.
 */
export function throttledErrorLog(
  logger: Logger,
  message: string,
  { level = 'warn', intervalMs = errorLogIntervalMs }: ThrottledErrorLogOptions = {},
): (err: unknown) => void {
  let loggedAt = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (err) => {
    const now = Date.now();
    if (now - loggedAt < intervalMs) {
      suppressed += 1;
      return;
    }
    logger[level]({ err, suppressed }, message);
    loggedAt = now;
    suppressed = 0;
  };
}
