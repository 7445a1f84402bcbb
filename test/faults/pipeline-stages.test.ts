/**
 * Fault matrix: a three-stage pipeline (Sartiq on-model, Sartiq upscale, convert) whose worker
 * process is SIGKILLed on its own "pipeline stage finished" line of stage 2; a new worker picks
 * the cycle up when its lock expires. The first two stages' outputs are in the checkpoint and on
 * this host's disk: the new worker sends Sartiq nothing at all, and the slots are filled with the
 * third stage's files. The receiver runs in this process, so the test can tell when the queue is
 * idle before it counts.
 */
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/service.ts';
import { SartiqSimulator, sampleImage } from '../../src/simulators/index.ts';
import { type Stack, startStack } from '../helpers/stack.ts';
import { Fleet, type ServiceLine } from './fleet.ts';

interface StageLine extends ServiceLine {
  stage?: number;
  recipe?: string;
}

const pipeline = [
  { recipe: 'sartiq-generate', options: { shotType: 'front_full_body', pollIntervalMs: 100 } },
  { recipe: 'sartiq-upscale', options: { scaleFactor: 2, pollIntervalMs: 100 } },
  { recipe: 'convert', options: { format: 'jpeg', maxWidth: 500 } },
];

describe('fault matrix: SIGKILL of a worker after stage 2 of a pipeline', () => {
  let sartiq: SartiqSimulator;
  let stack: Stack;
  let service: Service;
  let port: number;
  let fleet: Fleet;
  beforeAll(async () => {
    sartiq = await SartiqSimulator.start({ predictionDurationMs: 200 });
    const credentials = { email: 'fault-pipeline@studio.example', password: randomBytes(12).toString('hex') };
    sartiq.addAccount(credentials);
    stack = await startStack('fault-pipeline', {
      subfunction: { pipeline },
      sartiq: { baseUrl: sartiq.baseUrl, credentials },
      env: { LOG_LEVEL: 'info', WORKER_CONCURRENCY: '1' },
    });
    ({ service, port } = await stack.startService('serve'));
    fleet = new Fleet(stack);
    await fleet.start('work');
  });
  afterAll(async () => {
    await stack.close();
    await sartiq.close();
  });

  it('resumes after stage 2 without calling Sartiq again, and fills the slots with stage 3', async () => {
    const { sim } = stack;
    const task = sim.addTask({
      inputs: [
        { positionName: 'Front', fileName: 'front.jpg', body: await sampleImage({ width: 400, height: 600, format: 'jpeg' }) },
      ],
      slots: [{ mappingKeyId: '1_Front', positionName: 'Front', maxQuantity: 1 }],
    });
    let callsAtKill: number | undefined;
    const stop = fleet.onLine((worker, line: StageLine) => {
      if (line.msg !== 'pipeline stage finished' || line.stage !== 2 || callsAtKill !== undefined) return;
      callsAtKill = sartiq.callLog().length;
      void fleet.replace(worker, 'SIGKILL');
    });
    try {
      await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
      await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length > 0, 60_000);
      await stack.idle(service);
    } finally {
      stop();
    }
    expect(callsAtKill).toBeDefined();
    expect(fleet.kills).toBe(1);
    // Nothing reached Sartiq after the kill: no generation, no upscale, not even a poll or a download.
    expect(sartiq.callLog().slice(callsAtKill)).toEqual([]);
    expect(sartiq.generations().map((g) => g.endpoint)).toEqual(['generations', 'refines']);
    expect(sim.submissions(task.taskProcessId)).toHaveLength(1);
    expect(sim.rejectedSubmissions(task.taskProcessId)).toEqual([]);
    const [slot] = sim.submissions(task.taskProcessId)[0]?.body.submitAssets ?? [];
    const meta = await sharp(sim.uploadedObject(slot?.assets[0]?.assetId ?? '')?.body).metadata();
    expect([meta.format, meta.width]).toEqual(['jpeg', 500]);
  });
});
