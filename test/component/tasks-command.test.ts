/**
 * `cf-ai-connector tasks`: a connection's recent tasks from the task history, as a real process;
 * and a task the receiver queued and no worker has taken yet, as the CLI and the admin API show it.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CycleSummary, HistoryEvent } from '../../src/history/task-history.ts';
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

describe('a task no worker has taken yet', () => {
  const adminToken = randomBytes(24).toString('hex');
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('tasks-queued', { env: { ADMIN_TOKEN: adminToken } });
  });
  afterAll(async () => stack.close());

  it('is listed and found as queued, with its webhook, and recorded once when a worker takes it', async () => {
    const { sim } = stack;
    // The receiver alone: nothing takes the job.
    const { port } = await stack.startService('serve');
    const api = async <T>(path: string): Promise<T> => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${adminToken}` } });
      expect(response.status, path).toBe(200);
      return (await response.json()) as T;
    };
    const task = sim.addTask({
      inputs: [await photoInput('Front')],
      slots: [{ mappingKeyId: 'A', positionName: 'Front' }],
      productCode: 'SKU-WAIT',
    });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);

    const queued = await runCli(['tasks', 'acme', '--status', 'queued'], stack.env);
    expect(queued.stdout).toMatch(new RegExp(`queued .*${task.taskProcessId}  SKU-WAIT  convert  attempts 0`));
    const list = await api<{ cycles: CycleSummary[] }>('/admin/api/connections/acme/tasks?q=sku-wait');
    expect(list.cycles).toEqual([expect.objectContaining({ taskProcessId: task.taskProcessId, status: 'queued' })]);
    const detail = await api<{ cycles: { summary: CycleSummary; events: HistoryEvent[] }[] }>(
      `/admin/api/connections/acme/tasks/${task.taskProcessId}`,
    );
    expect(detail.cycles.map((c) => c.events)).toEqual([
      [{ at: list.cycles[0]?.receivedAt, type: 'received', signatureVariant: 'b64key-sha256-base64' }],
    ]);
    // The connection's last webhook is written at once (the first of its interval).
    const [connection] = (await api<{ connections: Record<string, unknown>[] }>('/admin/api/connections')).connections;
    expect(connection).toMatchObject({ lastWebhookAt: expect.any(String), signatureVariantLastSeen: 'b64key-sha256-base64' });

    const { service: worker } = await stack.startService('work');
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length === 1);
    await stack.idle(worker);
    const after = await api<{ cycles: CycleSummary[] }>('/admin/api/connections/acme/tasks');
    expect(after.cycles.map((c) => [c.cycleJobId, c.status])).toEqual([[list.cycles[0]?.cycleJobId, 'submitted']]);
    const recorded = await api<{ cycles: { events: HistoryEvent[] }[] }>(
      `/admin/api/connections/acme/tasks/${task.taskProcessId}`,
    );
    expect(recorded.cycles[0]?.events[0]).toEqual(detail.cycles[0]?.events[0]);
    const { days } = await api<{ days: { counters: Record<string, number> }[] }>('/admin/api/connections/acme/usage');
    expect(days.at(-1)?.counters).toMatchObject({ received: 1, submitted: 1 });
  });
});
