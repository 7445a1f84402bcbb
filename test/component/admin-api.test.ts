/**
 * The task history through the admin API, end to end on real Redis against the simulator: what a
 * studio admin and ops see of each task, who may see what, and retries.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CycleSummary, HistoryEvent } from '../../src/history/task-history.ts';
import type { Service } from '../../src/service.ts';
import { photoInput } from '../helpers/photo-input.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

/** The value, which the test needs to be there. */
function must<T>(value: T | undefined | null, what = 'a value'): T {
  if (value === undefined || value === null) throw new Error(`expected ${what}`);
  return value;
}
type Of<T extends HistoryEvent['type']> = Extract<HistoryEvent, { type: T }>;
const eventsOf = <T extends HistoryEvent['type']>(events: HistoryEvent[], type: T) =>
  events.filter((e): e is Of<T> => e.type === type);

const opsToken = randomBytes(24).toString('hex');
const studioToken = randomBytes(24).toString('hex');
const otherStudioToken = randomBytes(24).toString('hex');
const otherHook = randomBytes(32).toString('base64');

describe('the admin API', () => {
  let stack: Stack;
  let service: Service;
  let port: number;
  // The API's answers as the tests read them.
  type Body = {
    cycles: (CycleSummary & { summary: CycleSummary; events: HistoryEvent[] })[];
    connections: { id: string; [field: string]: unknown }[];
    days: { day: string; counters: Record<string, number> }[];
    [field: string]: unknown;
  };
  let api: (path: string, init?: { method?: string; token?: string | null }) => Promise<{ status: number; body: Body }>;

  beforeAll(async () => {
    stack = await startStack('admin-api', {
      env: {
        ADMIN_TOKEN: opsToken,
        PUBLIC_URL: 'https://connector.example.com/',
        T_OTHER_HOOK: otherHook,
      },
      connection: { adminTokens: [studioToken] },
      otherConnections: [
        {
          id: 'other',
          name: 'Other Studio',
          adminTokens: [otherStudioToken],
          creativeForce: { clientId: 'x', clientSecret: 'y', webhookSecrets: ['${T_OTHER_HOOK}'] },
          subfunctions: { '60': { recipe: 'convert', options: { format: 'png' } } },
        },
      ],
    });
    ({ service, port } = await stack.startService('start'));
    api = async (path, init = {}) => {
      const token = init.token === undefined ? studioToken : init.token;
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: init.method ?? 'GET',
        headers: token === null ? {} : { authorization: `Bearer ${token}` },
      });
      return { status: response.status, body: (await response.json()) as Body };
    };
  });
  afterAll(async () => stack.close());

  async function twoSlotTask() {
    return stack.sim.addTask({
      inputs: [await photoInput('Front'), await photoInput('Back')],
      slots: [
        { mappingKeyId: 'A', positionName: 'Front' },
        { mappingKeyId: 'B', positionName: 'Back' },
      ],
    });
  }

  it('shows a task with every step and its duration, the calls made, and what went into each slot; a rework as a second cycle', async () => {
    const { sim } = stack;
    const task = await twoSlotTask();
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length === 1);
    await stack.idle(service);

    const list = await api('/admin/api/connections/acme/tasks');
    expect(list.status).toBe(200);
    expect(list.body.cycles[0]).toMatchObject({
      taskProcessId: task.taskProcessId,
      status: 'submitted',
      recipe: 'convert',
      attempts: 1,
    });

    const detail = await api(`/admin/api/connections/acme/tasks/${task.taskProcessId}`);
    expect(detail.status).toBe(200);
    const cycle = must(detail.body.cycles[0], 'a cycle');
    const finished = eventsOf(cycle.events, 'step').filter((e) => e.phase === 'finished');
    expect(finished.map((e) => e.step)).toEqual([
      'get-process-detail',
      'download-inputs',
      'get-additional-context',
      'process-assets',
      'upload-outputs',
      'submit-output',
    ]);
    for (const e of finished) expect(e.durationMs).toBeGreaterThanOrEqual(0);
    expect(cycle.summary.calls).toEqual({ getProcessDetail: 1, bulkGetAssets: 1, getPresignedUploadUrls: 1, submitOutput: 1 });
    expect(eventsOf(cycle.events, 'submitted')[0]).toMatchObject({
      slots: [
        { mappingKeyId: 'A', new: 1, kept: 0, redone: 0 },
        { mappingKeyId: 'B', new: 1, kept: 0, redone: 0 },
      ],
    });

    // The reviewer rejects B: the rework is a second cycle of the same task process.
    const rejected = sim.outputs(task.taskProcessId).find((o) => o.mappingKeyId === 'B')?.assetId ?? '';
    sim.rejectOutputs(task.taskProcessId, [rejected]);
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the rework', () => sim.submissions(task.taskProcessId).length === 2);
    await stack.idle(service);
    const both = await api(`/admin/api/connections/acme/tasks/${task.taskProcessId}`);
    expect(both.body.cycles).toHaveLength(2);
    expect(eventsOf(must(both.body.cycles[1]).events, 'submitted')[0]?.slots).toEqual([
      { mappingKeyId: 'A', new: 0, kept: 1, redone: 0 },
      { mappingKeyId: 'B', new: 0, kept: 0, redone: 1 },
    ]);
    // Found by its TaskId and product code too.
    const byProduct = await api(`/admin/api/connections/acme/tasks?q=${encodeURIComponent(task.productId)}`);
    expect(byProduct.status).toBe(200);
    const byTask = await api(`/admin/api/connections/acme/tasks?q=${task.taskId.toUpperCase()}`);
    expect(byTask.body.cycles.map((c) => c.taskProcessId)).toEqual([task.taskProcessId, task.taskProcessId]);
  });

  it('shows a failed task with its code and message, reported to Creative Force, and refuses to retry it, saying why', async () => {
    const { sim } = stack;
    const task = sim.addTask({
      inputs: [{ positionName: 'Front', fileName: 'front.jpg', body: Buffer.from('not an image') }],
      slots: [{ mappingKeyId: 'A', positionName: 'Front' }],
    });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the failure report', () => sim.statusUpdates(task.taskProcessId).length > 0);
    await stack.idle(service);
    const failed = await api('/admin/api/connections/acme/tasks?status=reported');
    const cycle = must(
      failed.body.cycles.find((c) => c.taskProcessId === task.taskProcessId),
      'the failed cycle',
    );
    expect(cycle).toMatchObject({ status: 'reported', errorCode: 'ASSET_UNREADABLE' });
    expect(cycle.errorMessage).toContain('[ASSET_UNREADABLE]');

    const refused = await api(`/admin/api/connections/acme/tasks/${task.taskProcessId}/retry`, { method: 'POST' });
    expect(refused.status).toBe(409);
    expect(refused.body.reason).toMatch(/send the task to this step again in Creative Force/);
  });

  it('runs a cycle waiting on its backoff at once when asked to retry', async () => {
    const { sim } = stack;
    const task = await twoSlotTask();
    // The first attempt fails on a 503; its backoff is minutes.
    sim.failNext(
      { method: 'POST', pathIncludes: 'bulk-get-assets' },
      { status: 503, body: { errors: [{ code: 'GEN-503', message: 'Unavailable' }] } },
    );
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    let summary: CycleSummary | undefined;
    for (const deadline = Date.now() + 30_000; summary?.status !== 'retrying' && Date.now() < deadline; ) {
      summary = (await api(`/admin/api/connections/acme/tasks/${task.taskProcessId}`)).body.cycles?.[0]?.summary;
      if (summary?.status !== 'retrying') await new Promise((r) => setTimeout(r, 50));
    }
    expect(summary?.status).toBe('retrying');
    expect(await (await service.queue.queue.getJob(must(summary).cycleJobId))?.getState()).toBe('delayed');

    const retried = await api(`/admin/api/connections/acme/tasks/${task.taskProcessId}/retry`, { method: 'POST' });
    expect(retried).toMatchObject({ status: 202, body: { retried: 'cycle' } });
    await stack.waitFor('the submission after the retry', () => sim.submissions(task.taskProcessId).length === 1, 10_000);
  });

  it('lets a studio token see its connection only, the ops token every one, and nothing without a token', async () => {
    expect((await api('/admin/api/connections', { token: null })).status).toBe(401);
    expect((await api('/admin/api/connections', { token: 'x'.repeat(48) })).status).toBe(401);
    const mine = await api('/admin/api/connections');
    expect(mine.body.connections.map((c) => c.id)).toEqual(['acme']);
    expect(mine.body.connections[0]).toMatchObject({
      webhookUrl: 'https://connector.example.com/webhooks/creative-force/acme',
      subfunctions: [{ subfunctionId: 54, recipe: 'convert' }],
      signatureVariantLastSeen: 'b64key-sha256-base64',
      // The last cycle that ended without an error used the Creative Force credentials.
      credentials: { 'creative-force': { ok: true, at: expect.any(String) } },
    });
    expect((await api('/admin/api/connections/other/tasks')).status).toBe(404);
    expect((await api('/admin/api/connections/acme/tasks', { token: otherStudioToken })).status).toBe(404);
    const all = await api('/admin/api/connections', { token: opsToken });
    expect(all.body.connections.map((c) => c.id)).toEqual(['acme', 'other']);
    expect((await api('/admin/api/connections/acme/tasks?status=nope')).body).toMatchObject({ field: 'status' });
  });

  it("shows credentials Creative Force refused in the connection's health", async () => {
    const { sim } = stack;
    // The other studio's client id is unknown to Creative Force (the simulator).
    const task = sim.addTask({
      inputs: [await photoInput('Front')],
      slots: [{ mappingKeyId: 'A', positionName: 'Front' }],
      subfunctionId: 60,
    });
    const url = `http://127.0.0.1:${port}/webhooks/creative-force/other`;
    const answer = await sim.sendWebhook(url, task.taskProcessId, otherHook);
    expect(answer, JSON.stringify(answer.body)).toMatchObject({ status: 202 });
    let other: Record<string, unknown> | undefined;
    const refused = () => Object.keys((other?.credentials as object | undefined) ?? {}).length > 0;
    for (const deadline = Date.now() + 30_000; !refused() && Date.now() < deadline; ) {
      other = (await api('/admin/api/connections', { token: otherStudioToken })).body.connections[0];
      if (!refused()) await new Promise((r) => setTimeout(r, 50));
    }
    expect(other?.credentials).toEqual({ 'creative-force': { ok: false, code: 'CF_AUTH_FAILED', at: expect.any(String) } });
    await stack.idle(service);
  });

  it('counts the day: tasks received, submitted, failed, and Creative Force calls', async () => {
    const usage = await api('/admin/api/connections/acme/usage');
    const today = must(usage.body.days.at(-1), 'today');
    expect(today.day).toBe(new Date().toISOString().slice(0, 10));
    expect(today.counters).toMatchObject({ received: 4, submitted: 3, failed: 1 });
    expect(today.counters.cfCalls).toBeGreaterThan(10);
  });
});
