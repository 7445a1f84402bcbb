/**
 * A failure report Creative Force never gets (refused, or out of attempts) is kept as a dead letter,
 * listed by `cf-ai-connector reports`, and delivered once re-sent.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { reportsCommand } from '../../src/operations/reports-command.ts';
import type { Service } from '../../src/service.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

/** A task whose only input is not an image: its cycle fails at once (ASSET_UNREADABLE). */
function failingTask(stack: Stack) {
  return stack.sim.addTask({
    inputs: [{ positionName: 'Front', fileName: 'front.jpg', body: Buffer.from('not an image') }],
    slots: [{ mappingKeyId: '1_Front', positionName: 'Front' }],
  });
}

/** Runs the command against the stack's Redis and prefix; its exit code and output. */
async function reports(stack: Stack, ...args: string[]) {
  let out = '';
  let err = '';
  const code = await reportsCommand.run(args, {
    env: stack.env,
    out: { write: (t: string) => (out += t) },
    err: { write: (t: string) => (err += t) },
  });
  return { code, out, err };
}

describe('undelivered failure reports', () => {
  let stack: Stack | undefined;
  afterEach(async () => stack?.close());

  async function start(env: Record<string, string> = {}): Promise<{ stack: Stack; service: Service; port: number }> {
    stack = await startStack('dead-letters', { env });
    return { stack, ...(await stack.startService('start')) };
  }

  it('keeps a report Creative Force refused, lists it, and delivers it when re-sent', async () => {
    const { stack, service, port } = await start();
    const { sim } = stack;
    const task = failingTask(stack);
    sim.failNext(
      { method: 'PUT', pathIncludes: '/status' },
      { status: 400, body: { errors: { Message: ['The Message field is invalid.'] } } },
    );
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the refused report', () =>
      sim.callLog().some((c) => c.method === 'PUT' && c.path.includes(task.taskProcessId) && c.status === 400),
    );
    await stack.idle(service);
    expect(sim.statusUpdates(task.taskProcessId)).toEqual([]);

    const listed = await reports(stack, '--json');
    expect(listed.code).toBe(0);
    const letters = listed.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(letters).toEqual([
      expect.objectContaining({
        report: expect.objectContaining({ taskProcessId: task.taskProcessId, code: 'ASSET_UNREADABLE' }),
        error: expect.stringMatching(/^CF_REJECTED: /),
        attempts: 1,
      }),
    ]);
    expect((await reports(stack)).out).toContain(task.taskProcessId);

    const resent = await reports(stack, 'resend', '--all');
    expect(resent).toMatchObject({ code: 0, out: expect.stringContaining(`queued ${letters[0].id} again`) });
    await stack.waitFor('the delivered report', () => sim.statusUpdates(task.taskProcessId).length > 0);
    await stack.idle(service);
    expect(sim.statusUpdates(task.taskProcessId)).toHaveLength(1);
    expect(sim.statusUpdates(task.taskProcessId)[0]?.message).toContain('[ASSET_UNREADABLE]');
    expect((await reports(stack)).out).toBe('no undelivered failure reports\n');
  });

  it('keeps a report that ran out of attempts, and says so for an unknown id', async () => {
    const { stack, service, port } = await start({ FAILURE_REPORT_ATTEMPTS: '2' });
    const { sim } = stack;
    const task = failingTask(stack);
    sim.failNext(
      { method: 'PUT', pathIncludes: '/status' },
      { status: 503, body: { errors: [{ code: 'GEN-503', message: 'Unavailable' }] } },
      2,
    );
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor(
      'two report attempts',
      () => sim.callLog().filter((c) => c.method === 'PUT' && c.path.includes(task.taskProcessId)).length === 2,
      30_000,
    );
    await stack.idle(service);
    const letters = (await reports(stack, '--json')).out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(letters).toEqual([expect.objectContaining({ attempts: 2, error: expect.stringMatching(/^CF_SERVER_ERROR: /) })]);
    expect(await reports(stack, 'resend', 'report.nothing')).toMatchObject({
      code: 1,
      err: 'cf-ai-connector: no dead letter report.nothing\n',
    });
  });
});
