/**
 * Cycles of one studio share bulk-get-assets and pre-signed URL calls (src/creative-force/
 * shared-calls.ts), through real worker processes on real Redis, judged from the simulator's own
 * records once the system is idle: fewer of those calls than tasks, every task submitted once
 * with its own files, and two workspaces never in one pre-signed URL call.
 */
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import type { CreativeForceSimulator } from '../../src/simulators/index.ts';
import { photoInput } from '../helpers/photo-input.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

/** Each input's width is its own, so an output (converted at its size) tells whose input it came from. */
interface Seeded {
  taskProcessId: string;
  clientId: string;
  widths: Map<string, number>;
}

async function seed(sim: CreativeForceSimulator, count: number, workspaces: string[]): Promise<Seeded[]> {
  const tasks: Seeded[] = [];
  for (let i = 0; i < count; i += 1) {
    const clientId = workspaces[i % workspaces.length] ?? '';
    const positions = i % 2 === 0 ? ['Front'] : ['Front', 'Back'];
    const widths = new Map(positions.map((p, j) => [`${p}-${i}`, 100 + i * 2 + j]));
    const task = sim.addTask({
      clientId,
      inputs: await Promise.all(positions.map((p, j) => photoInput(p, 100 + i * 2 + j, 100))),
      slots: positions.map((p) => ({ mappingKeyId: `${p}-${i}`, positionName: p })),
    });
    tasks.push({ taskProcessId: task.taskProcessId, clientId, widths });
  }
  return tasks;
}

function callsTo(sim: CreativeForceSimulator, path: string): number {
  return sim.callLog().filter((c) => c.path.endsWith(path) && c.status === 200).length;
}

describe('calls shared between the cycles of one studio', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  /** A burst through a receiver and two worker processes; resolves once the system is idle. */
  async function burst(name: string, count: number, workspaces: string[]): Promise<Seeded[]> {
    // A slow limiter (5 requests/s) keeps cycles waiting on it, as a burst at 20/s does.
    stack = await startStack(name, {
      env: { CF_RATE_LIMIT_RPS: '5', WORKER_CONCURRENCY: '8' },
      subfunctionOptions: { format: 'png' },
    });
    const { service, port } = await stack.startService('serve');
    stack.spawnWorker();
    stack.spawnWorker();
    const tasks = await seed(stack.sim, count, workspaces);
    for (const t of tasks) {
      expect((await stack.sim.sendWebhook(stack.webhookUrl(port), t.taskProcessId, stack.secret)).status).toBe(202);
    }
    const { sim } = stack;
    await stack.waitFor('every submission', () => tasks.every((t) => sim.submissions(t.taskProcessId).length > 0), 120_000);
    await stack.idle(service);
    return tasks;
  }

  it('makes fewer bulk-get-assets and pre-signed URL calls than tasks, and each task submits its own files once', async () => {
    const tasks = await burst('shared-burst', 12, [randomUUID()]);
    const sim = (stack as Stack).sim;
    expect(callsTo(sim, '/assets/bulk-get-assets')).toBeLessThan(tasks.length);
    expect(callsTo(sim, '/assets/get-presigned-url')).toBeLessThan(tasks.length);
    expect(sim.presignCalls().some((c) => c.localIds.length > 2)).toBe(true);
    for (const task of tasks) {
      const [submission, ...more] = sim.submissions(task.taskProcessId);
      expect(more).toEqual([]);
      expect(sim.rejectedSubmissions(task.taskProcessId)).toEqual([]);
      expect(sim.statusUpdates(task.taskProcessId)).toEqual([]);
      // Each slot holds the conversion of this task's own input for that slot: its width says so.
      for (const slot of submission?.body.submitAssets ?? []) {
        expect(slot.assets).toHaveLength(1);
        const uploaded = sim.uploadedObject(slot.assets[0]?.assetId ?? '');
        const { width } = await sharp(uploaded?.body).metadata();
        expect(width, slot.mappingKeyId).toBe(task.widths.get(slot.mappingKeyId));
      }
    }
  }, 180_000);

  it('never puts the files of two workspaces in one pre-signed URL call', async () => {
    const workspaces = [randomUUID(), randomUUID()];
    const tasks = await burst('shared-workspaces', 12, workspaces);
    const sim = (stack as Stack).sim;
    const workspaceOf = new Map<string, string>();
    for (const task of tasks) {
      expect(sim.submissions(task.taskProcessId)).toHaveLength(1);
      expect(sim.rejectedSubmissions(task.taskProcessId)).toEqual([]);
      for (const slot of sim.submissions(task.taskProcessId)[0]?.body.submitAssets ?? []) {
        for (const asset of slot.assets) workspaceOf.set(asset.assetId ?? '', task.clientId);
      }
    }
    const calls = sim.presignCalls();
    expect(calls.length).toBeLessThan(tasks.length);
    expect(new Set(calls.map((c) => c.clientId))).toEqual(new Set(workspaces));
    for (const call of calls) {
      // Every URL a call minted that was submitted went to a task of the call's own workspace.
      const used = call.tempAssetIds.filter((id) => workspaceOf.has(id));
      expect(used.map((id) => workspaceOf.get(id))).toEqual(used.map(() => call.clientId));
    }
    // Sharing did happen, within each workspace.
    for (const workspace of workspaces) {
      const shared = calls.filter((c) => c.clientId === workspace && c.localIds.length > 2);
      expect(shared.length, workspace).toBeGreaterThan(0);
    }
  }, 180_000);
});
