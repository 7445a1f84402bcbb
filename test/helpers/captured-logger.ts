import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from '../../src/observability/logger.ts';

/**
 * The service's own logger (redaction included) writing into `lines`, so a test can assert on
 * what was logged. Empty the array with `lines.length = 0` between tests.
 */
export function capturedLogger(level = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  return { logger: createLogger(level, stream), lines };
}
