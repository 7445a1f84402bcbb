import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.ts';
import { type LogLine, watchProcess } from '../helpers/process-log.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

interface WorkerLine extends LogLine {
  redis?: string;
  exitCode?: number;
  err?: { message: string };
}

/** A Redis (as far as ioredis can tell) that refuses every password. */
async function refusingRedis(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      for (const _command of chunk.toString().match(/\*\d+\r\n\$/g) ?? [])
        socket.write('-WRONGPASS invalid username-password pair or user is disabled.\r\n');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0 };
}

describe('a worker process', () => {
  let stack: Stack;
  const faultInjector = resolve('test/helpers/fault-injector.ts');

  beforeAll(async () => {
    stack = await startStack('process-exit', { env: { LOG_LEVEL: 'info' } });
  });
  afterAll(() => stack.close());

  it.each([
    { fault: 'reject', what: 'an unhandled rejection', message: 'injected rejection' },
    { fault: 'throw', what: 'an uncaught exception', message: 'injected exception' },
  ])('logs $what with its error, stops the service and exits 1', async ({ fault, message }) => {
    const child = stack.spawnWorker({ nodeArgs: ['--import', faultInjector], capture: true });
    const out = watchProcess<WorkerLine>(child);
    await stack.waitFor('the worker to start', () => out.messages().includes('cf-ai-connector started'));
    child.send(fault);
    expect(await out.exited).toBe(1);
    expect(out.lines.find((l) => l.msg === 'fatal error; shutting down')).toMatchObject({ level: 60, err: { message } });
    const path = ['fatal error; shutting down', 'shutting down', 'cf-ai-connector stopped'];
    expect(out.messages().filter((m) => path.includes(m))).toEqual(path);
    expect(out.lines.at(-1)).toMatchObject({ msg: 'cf-ai-connector stopped', exitCode: 1 });
  });

  it('stops on SIGTERM and exits 0', async () => {
    const child = stack.spawnWorker({ capture: true });
    const out = watchProcess<WorkerLine>(child);
    await stack.waitFor('the worker to start', () => out.messages().includes('cf-ai-connector started'));
    child.kill('SIGTERM');
    expect(await out.exited).toBe(0);
    expect(out.lines.at(-1)).toMatchObject({ msg: 'cf-ai-connector stopped', exitCode: 0 });
    expect(out.stderr()).toBe('');
  });

  it('warns once per Redis connection while Redis is down, not once per reconnect, and still stops in time', async () => {
    const child = stack.spawnWorker({ env: { REDIS_URL: `redis://127.0.0.1:${await freePort()}` }, capture: true });
    const out = watchProcess<WorkerLine>(child);
    // The service gives Redis 5 s before it listens anyway: dozens of reconnect attempts.
    await stack.waitFor('the worker to start', () => out.messages().includes('cf-ai-connector started'));
    const warned = out.lines.filter((l) => l.msg === 'redis connection error');
    expect(warned.map((l) => l.redis).sort()).toEqual(['producer', 'shared', 'worker']);
    for (const line of warned) expect(line).toMatchObject({ level: 40, err: { message: expect.stringMatching(/ECONNREFUSED/) } });
    expect(out.lines.filter((l) => l.msg === 'queue events error').length).toBeLessThanOrEqual(1);
    expect(out.lines.filter((l) => l.msg === 'worker error').length).toBeLessThanOrEqual(1);
    expect(out.stderr()).toBe(''); // BullMQ prints a queue's errors there when it has no listener

    const stopAt = Date.now();
    child.kill('SIGTERM');
    expect(await out.exited).toBe(0);
    // SHUTDOWN_TIMEOUT_MS is 2 s in the stack; stop() adds at most forcedCloseMs (3 s).
    expect(Date.now() - stopAt).toBeLessThan(8_000);
  });

  it('never logs the Redis password, even when Redis refuses it', async () => {
    const redis = await refusingRedis();
    try {
      const password = 'pw-that-must-not-be-logged';
      const child = stack.spawnWorker({
        env: { REDIS_URL: `redis://:${password}@127.0.0.1:${redis.port}` },
        capture: true,
      });
      const out = watchProcess<WorkerLine>(child);
      await stack.waitFor('the worker to start', () => out.messages().includes('cf-ai-connector started'));
      child.kill('SIGTERM');
      await out.exited;
      const refused = out.lines.filter((l) => l.msg === 'redis connection error');
      expect(refused.length).toBeGreaterThan(0);
      expect(refused[0]?.err?.message).toMatch(/WRONGPASS/);
      expect(out.text()).not.toContain(password);
    } finally {
      redis.server.close();
    }
  });
});
