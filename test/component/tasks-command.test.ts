/** `cf-ai-connector tasks`: a connection's recent tasks from the task history, as a real process. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/service.ts';
import { photoInput } from '../helpers/photo-input.ts';
import { runCli } from '../helpers/run-cli.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

describe('cf-ai-connector tasks', () => {
  let stack: Stack;
  let service: Service;
  let port: number;
  beforeAll(async () => {
    stack = await startStack('tasks-command');
    ({ service, port } = await stack.startService('start'));
  });
  afterAll(async () => stack.close());

  it('lists the recent tasks, newest first, by status, as lines or JSON', async () => {
    const { sim } = stack;
    const done = sim.addTask({
      inputs: [await photoInput('Front')],
      slots: [{ mappingKeyId: 'A', positionName: 'Front' }],
      productCode: 'SKU-OK',
    });
    const broken = sim.addTask({
      inputs: [{ positionName: 'Front', fileName: 'front.jpg', body: Buffer.from('not an image') }],
      slots: [{ mappingKeyId: 'A', positionName: 'Front' }],
      productCode: 'SKU-BAD',
    });
    await sim.sendWebhook(stack.webhookUrl(port), done.taskProcessId, stack.secret);
    await sim.sendWebhook(stack.webhookUrl(port), broken.taskProcessId, stack.secret);
    await stack.waitFor(
      'both cycles to end',
      () => sim.submissions(done.taskProcessId).length === 1 && sim.statusUpdates(broken.taskProcessId).length === 1,
    );
    await stack.idle(service);

    const all = await runCli(['tasks', 'acme'], stack.env);
    expect(all.code).toBe(0);
    const lines = all.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(broken.taskProcessId);
    expect(lines[0]).toMatch(/reported .*SKU-BAD .*ASSET_UNREADABLE/);
    expect(lines[1]).toMatch(/submitted .*SKU-OK/);

    const failed = await runCli(['tasks', 'acme', '--status', 'reported', '--since', '1h', '--json'], stack.env);
    expect(
      failed.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).taskProcessId),
    ).toEqual([broken.taskProcessId]);
    expect((await runCli(['tasks', 'acme', '--status', 'queued'], stack.env)).stdout).toBe('no tasks\n');
  });

  it('refuses an unknown connection, status or age with exit 2', async () => {
    for (const args of [
      ['tasks', 'nobody'],
      ['tasks', 'acme', '--status', 'lost'],
      ['tasks', 'acme', '--since', 'yesterday'],
      ['tasks'],
    ]) {
      const run = await runCli(args, stack.env);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toMatch(/^cf-ai-connector: /);
    }
  });
});
